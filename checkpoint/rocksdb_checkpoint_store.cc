#include "checkpoint/rocksdb_checkpoint_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <string_view>
#include <system_error>
#include <utility>

#include "common/big_endian.h"

namespace tern {
namespace {

// One-byte key prefixes (see README.md). Every key but the format marker continues with the
// encoded partition, so all keys of one kind and one partition are adjacent.
constexpr char kProgressPrefix = 'P';
constexpr char kRunPrefix = 'R';
constexpr char kFloorPrefix = 'F';
constexpr char kPreparedPrefix = 'X';

// Written when the store is created and checked on every open, so that a directory holding
// some other RocksDB database, or a store of a format this build cannot read, is refused.
constexpr std::string_view kFormatKey = "Mformat";
constexpr std::string_view kFormatMarker = "tern-checkpoint-1";

// Progress value: version byte, next_source_offset, next_target_offset, updated_ms (int64
// each), topic_incarnation length (uint32), then the incarnation bytes.
constexpr std::uint8_t kProgressVersion = 1;
constexpr std::size_t kProgressFixedSize = 1 + 8 + 8 + 8 + 4;
// Run key: run prefix, then the upstream offset (int64). Run value: downstream, length.
constexpr std::size_t kOffsetSize = 8;
constexpr std::size_t kRunValueSize = 16;
// Prepared update value: version byte, progress length (uint32), the progress value, run
// count (uint32), then each run's upstream, downstream and length (int64 each).
constexpr std::uint8_t kPreparedVersion = 1;
constexpr std::size_t kPreparedRunSize = 24;

constexpr std::int64_t kMaxOffset = std::numeric_limits<std::int64_t>::max();

using MaybeRun = std::optional<OffsetRun>;

std::int64_t End(const OffsetRun& run) { return run.upstream + run.length; }

std::string Name(const SourcePartition& p) {
  return p.topic + "-" + std::to_string(p.partition);
}

// `prefix`, then the topic's length (uint32) and bytes, then the partition (int32). The length
// makes the encoding prefix-free: no partition's key starts with another partition's key, so
// topics "a" and "ab" never share a key range.
std::string PartitionKey(char prefix, const SourcePartition& p) {
  std::string key(1, prefix);
  StoreBigEndian<std::uint32_t>(key, static_cast<std::uint32_t>(p.topic.size()));
  key += p.topic;
  StoreBigEndian<std::int32_t>(key, p.partition);
  return key;
}

// The inverse of PartitionKey (whatever the prefix byte); nullopt when `key` is malformed.
std::optional<SourcePartition> DecodePartitionKey(std::string_view key) {
  if (key.size() < 1 + 4 + 4) return std::nullopt;
  const auto topic_size = LoadBigEndian<std::uint32_t>(key.data() + 1);
  if (key.size() != 1 + 4 + std::size_t{topic_size} + 4) return std::nullopt;
  SourcePartition p;
  p.topic.assign(key.data() + 5, topic_size);
  p.partition = LoadBigEndian<std::int32_t>(key.data() + 5 + topic_size);
  return p;
}

// Offsets in keys are never negative (Commit refuses them), so big-endian order is numeric.
std::string RunKey(const std::string& run_prefix, std::int64_t upstream) {
  std::string key = run_prefix;
  StoreBigEndian<std::int64_t>(key, upstream);
  return key;
}

// Greater than every run key of the partition (they are exactly 8 bytes longer than the
// prefix) and, the encoding being prefix-free, smaller than every key of the next partition.
std::string RunUpperBound(const std::string& run_prefix) {
  return run_prefix + std::string(kOffsetSize + 1, '\xff');
}

std::string EncodeOffset(std::int64_t offset) {
  std::string value;
  StoreBigEndian<std::int64_t>(value, offset);
  return value;
}

std::string EncodeRunValue(const OffsetRun& run) {
  std::string value;
  StoreBigEndian<std::int64_t>(value, run.downstream);
  StoreBigEndian<std::int64_t>(value, run.length);
  return value;
}

std::string EncodeProgress(const PartitionProgress& progress) {
  std::string value;
  value.push_back(static_cast<char>(kProgressVersion));
  StoreBigEndian<std::int64_t>(value, progress.next_source_offset);
  StoreBigEndian<std::int64_t>(value, progress.next_target_offset);
  StoreBigEndian<std::int64_t>(value, progress.updated_ms);
  StoreBigEndian<std::uint32_t>(value,
                                static_cast<std::uint32_t>(progress.topic_incarnation.size()));
  value += progress.topic_incarnation;
  return value;
}

Result<PartitionProgress> DecodeProgress(std::string_view value, const SourcePartition& p) {
  const std::string what = "progress of " + Name(p);
  if (value.empty()) return Status::Corruption(what + " is empty");
  if (static_cast<std::uint8_t>(value[0]) != kProgressVersion) {
    return Status::Corruption(what + " has unknown format version " +
                              std::to_string(static_cast<std::uint8_t>(value[0])));
  }
  if (value.size() < kProgressFixedSize) return Status::Corruption(what + " is truncated");
  const char* data = value.data();
  PartitionProgress progress;
  progress.next_source_offset = LoadBigEndian<std::int64_t>(data + 1);
  progress.next_target_offset = LoadBigEndian<std::int64_t>(data + 9);
  progress.updated_ms = LoadBigEndian<std::int64_t>(data + 17);
  const auto incarnation_size = LoadBigEndian<std::uint32_t>(data + 25);
  if (value.size() != kProgressFixedSize + std::size_t{incarnation_size}) {
    return Status::Corruption(what + " has " + std::to_string(value.size()) +
                              " bytes, its header says " +
                              std::to_string(kProgressFixedSize + incarnation_size));
  }
  progress.topic_incarnation.assign(data + kProgressFixedSize, incarnation_size);
  return progress;
}

std::string EncodePrepared(const PartitionUpdate& update) {
  const std::string progress = EncodeProgress(update.progress);
  std::string value;
  value.push_back(static_cast<char>(kPreparedVersion));
  StoreBigEndian<std::uint32_t>(value, static_cast<std::uint32_t>(progress.size()));
  value += progress;
  StoreBigEndian<std::uint32_t>(value, static_cast<std::uint32_t>(update.runs.size()));
  for (const OffsetRun& run : update.runs) {
    StoreBigEndian<std::int64_t>(value, run.upstream);
    StoreBigEndian<std::int64_t>(value, run.downstream);
    StoreBigEndian<std::int64_t>(value, run.length);
  }
  return value;
}

Result<PartitionUpdate> DecodePrepared(std::string_view value, const SourcePartition& p) {
  const std::string what = "prepared update of " + Name(p);
  if (value.empty()) return Status::Corruption(what + " is empty");
  if (static_cast<std::uint8_t>(value[0]) != kPreparedVersion) {
    return Status::Corruption(what + " has unknown format version " +
                              std::to_string(static_cast<std::uint8_t>(value[0])));
  }
  if (value.size() < 1 + 4) return Status::Corruption(what + " is truncated");
  const std::size_t progress_size = LoadBigEndian<std::uint32_t>(value.data() + 1);
  if (value.size() < 1 + 4 + progress_size + 4) return Status::Corruption(what + " is truncated");
  auto progress = DecodeProgress(value.substr(1 + 4, progress_size), p);
  if (!progress.ok()) return progress.status();
  const char* runs = value.data() + 1 + 4 + progress_size + 4;
  const std::size_t count = LoadBigEndian<std::uint32_t>(runs - 4);
  if (value.size() != 1 + 4 + progress_size + 4 + count * kPreparedRunSize) {
    return Status::Corruption(what + " has " + std::to_string(value.size()) +
                              " bytes, not what its " + std::to_string(count) + " runs take");
  }
  PartitionUpdate update{p, {}, std::move(progress).value()};
  update.runs.reserve(count);
  for (std::size_t i = 0; i < count; ++i, runs += kPreparedRunSize) {
    update.runs.push_back({LoadBigEndian<std::int64_t>(runs), LoadBigEndian<std::int64_t>(runs + 8),
                           LoadBigEndian<std::int64_t>(runs + 16)});
  }
  return update;
}

Status FromRocks(const rocksdb::Status& s, const std::string& context) {
  const std::string message = context + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(message);
  if (s.IsIOError()) return Status::IoError(message);
  if (s.IsNotFound()) return Status::NotFound(message);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(message);
  if (s.IsNotSupported()) return Status::Unsupported(message);
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) return Status::Unavailable(message);
  return Status::Internal(message);
}

Status CheckPartition(const SourcePartition& p) {
  if (p.topic.empty()) return Status::InvalidArgument("a source partition needs a topic name");
  return Status::Ok();
}

Status CheckRun(const SourcePartition& p, const OffsetRun& run) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("run " + std::to_string(run.upstream) + "->" +
                                   std::to_string(run.downstream) + " x" +
                                   std::to_string(run.length) + " of " + Name(p) + ": " +
                                   std::string(why));
  };
  if (run.length <= 0) return bad("length must be positive");
  if (run.upstream < 0 || run.downstream < 0) return bad("offsets must not be negative");
  if (run.upstream > kMaxOffset - run.length || run.downstream > kMaxOffset - run.length) {
    return bad("ends past the largest offset");
  }
  return Status::Ok();
}

// A forward and backward cursor over one partition's runs, bounded so it never reads another
// partition's keys. Reads through `read_options` (which may carry a snapshot).
class RunCursor {
 public:
  RunCursor(rocksdb::DB* db, rocksdb::ReadOptions read_options, const SourcePartition& p)
      : name_(Name(p)),
        prefix_(PartitionKey(kRunPrefix, p)),
        upper_(RunUpperBound(prefix_)),
        lower_slice_(prefix_),
        upper_slice_(upper_) {
    read_options.iterate_lower_bound = &lower_slice_;
    read_options.iterate_upper_bound = &upper_slice_;
    it_.reset(db->NewIterator(read_options));
  }
  RunCursor(const RunCursor&) = delete;
  RunCursor& operator=(const RunCursor&) = delete;

  const std::string& prefix() const { return prefix_; }

  // The last run whose upstream is <= `offset` (>= 0).
  Result<MaybeRun> AtOrBelow(std::int64_t offset) {
    it_->SeekForPrev(RunKey(prefix_, offset));
    return Current();
  }
  Result<MaybeRun> First() {
    it_->SeekToFirst();
    return Current();
  }
  Result<MaybeRun> Last() {
    it_->SeekToLast();
    return Current();
  }
  // REQUIRES: the cursor is on a run.
  Result<MaybeRun> Next() {
    it_->Next();
    return Current();
  }

 private:
  Result<MaybeRun> Current() {
    if (!it_->Valid()) {
      if (!it_->status().ok()) return FromRocks(it_->status(), "reading runs of " + name_);
      return MaybeRun();
    }
    const rocksdb::Slice key = it_->key();
    const rocksdb::Slice value = it_->value();
    if (key.size() != prefix_.size() + kOffsetSize || value.size() != kRunValueSize) {
      return Status::Corruption("malformed run entry of " + name_);
    }
    OffsetRun run;
    run.upstream = LoadBigEndian<std::int64_t>(key.data() + prefix_.size());
    run.downstream = LoadBigEndian<std::int64_t>(value.data());
    run.length = LoadBigEndian<std::int64_t>(value.data() + 8);
    if (run.length <= 0) return Status::Corruption("run of " + name_ + " has no length");
    return MaybeRun(run);
  }

  const std::string name_;
  const std::string prefix_;
  const std::string upper_;
  const rocksdb::Slice lower_slice_;
  const rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

// RocksDB is a sidecar here holding a few MiB: keep its memory, threads and files small.
rocksdb::Options StoreOptions() {
  rocksdb::Options options;
  options.paranoid_checks = true;
  options.write_buffer_size = 4 << 20;
  options.max_write_buffer_number = 2;
  options.max_background_jobs = 2;
  options.max_open_files = 256;
  options.keep_log_file_num = 4;
  options.max_log_file_size = 4 << 20;
  options.max_manifest_file_size = 64 << 20;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(8 << 20);
  table.cache_index_and_filter_blocks = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

}  // namespace

struct RocksDbCheckpointStore::Impl {
  Impl(std::string d, rocksdb::DB* raw_db) : dir(std::move(d)), db(raw_db) {
    sync_write.sync = true;
  }
  ~Impl() {
    // Every write was synced, so a failed close loses nothing; there is no one to tell.
    if (db) (void)db->Close();
  }

  std::string Context(const std::string& what) const {
    return "checkpoint store '" + dir + "': " + what;
  }

  Status Write(rocksdb::WriteBatch& batch, const std::string& what) {
    const rocksdb::Status s = db->Write(sync_write, &batch);
    return s.ok() ? Status::Ok() : FromRocks(s, Context(what));
  }

  Result<std::optional<std::string>> Get(const rocksdb::ReadOptions& ro, const std::string& key,
                                         const std::string& what) {
    std::string value;
    const rocksdb::Status s = db->Get(ro, key, &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocks(s, Context(what));
    return std::optional<std::string>(std::move(value));
  }

  Result<std::optional<PartitionProgress>> ReadProgress(const rocksdb::ReadOptions& ro,
                                                        const SourcePartition& p) {
    auto value = Get(ro, PartitionKey(kProgressPrefix, p), "reading progress of " + Name(p));
    if (!value.ok()) return value.status();
    if (!value.value()) return std::optional<PartitionProgress>();
    auto progress = DecodeProgress(*value.value(), p);
    if (!progress.ok()) return Status::Corruption(Context(progress.status().message()));
    return std::optional<PartitionProgress>(std::move(progress).value());
  }

  Result<std::optional<std::int64_t>> ReadFloor(const rocksdb::ReadOptions& ro,
                                                const SourcePartition& p) {
    auto value = Get(ro, PartitionKey(kFloorPrefix, p), "reading the floor of " + Name(p));
    if (!value.ok()) return value.status();
    if (!value.value()) return std::optional<std::int64_t>();
    if (value.value()->size() != kOffsetSize) {
      return Status::Corruption(Context("the floor of " + Name(p) + " is malformed"));
    }
    return std::optional<std::int64_t>(LoadBigEndian<std::int64_t>(value.value()->data()));
  }

  // A store created an instant before a crash has no marker yet and is empty; it gets its
  // marker now. Any other database without the marker is not ours and is left alone.
  Status CheckFormat() {
    auto marker = Get(rocksdb::ReadOptions(), std::string(kFormatKey), "reading the format");
    if (!marker.ok()) return marker.status();
    if (marker.value()) {
      if (*marker.value() == kFormatMarker) return Status::Ok();
      return Status::Unsupported(Context("has format '" + *marker.value() +
                                         "', this build reads '" + std::string(kFormatMarker) +
                                         "'"));
    }
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    it->SeekToFirst();
    if (!it->status().ok()) return FromRocks(it->status(), Context("reading"));
    if (it->Valid()) {
      return Status::InvalidArgument(
          Context("holds a RocksDB database that is not a checkpoint store (no format "
                  "marker); refusing to use it"));
    }
    rocksdb::WriteBatch batch;
    batch.Put(kFormatKey, kFormatMarker);
    return Write(batch, "writing the format marker");
  }

  std::string dir;
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::WriteOptions sync_write;
  // Serializes writers: each reads the runs it is about to extend, shorten or drop.
  std::mutex write_mu;
};

Result<std::unique_ptr<CheckpointStore>> OpenRocksDbCheckpointStore(const std::string& dir) {
  auto store = RocksDbCheckpointStore::Open(dir);
  if (!store.ok()) return store.status();
  return std::unique_ptr<CheckpointStore>(std::move(store).value());
}

Result<std::unique_ptr<RocksDbCheckpointStore>> RocksDbCheckpointStore::Open(
    const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string context = "checkpoint store '" + dir + "'";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError(context + ": cannot create the directory: " + ec.message());
  if (!fs::is_directory(dir, ec)) return Status::InvalidArgument(context + ": not a directory");
  const bool empty = fs::is_empty(dir, ec);
  if (ec) return Status::IoError(context + ": cannot list the directory: " + ec.message());
  const bool has_database = fs::exists(fs::path(dir) / "CURRENT", ec);
  if (ec) return Status::IoError(context + ": cannot inspect the directory: " + ec.message());
  if (!empty && !has_database) {
    // Creating a database among someone else's files would mix the two; the operator decides.
    return Status::InvalidArgument(context +
                                   ": the directory holds files but no RocksDB database; "
                                   "refusing to use it");
  }

  rocksdb::Options options = StoreOptions();
  options.create_if_missing = empty;
  rocksdb::DB* db = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(options, dir, &db);
  if (!s.ok()) return FromRocks(s, context + ": cannot open");
  auto impl = std::make_unique<Impl>(dir, db);
  if (auto format = impl->CheckFormat(); !format.ok()) return format;
  return std::unique_ptr<RocksDbCheckpointStore>(new RocksDbCheckpointStore(std::move(impl)));
}

RocksDbCheckpointStore::RocksDbCheckpointStore(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

RocksDbCheckpointStore::~RocksDbCheckpointStore() = default;

const std::string& RocksDbCheckpointStore::dir() const { return impl_->dir; }

Status RocksDbCheckpointStore::Commit(const std::vector<PartitionUpdate>& updates) {
  if (updates.empty()) return Status::Ok();
  std::lock_guard<std::mutex> lock(impl_->write_mu);
  const rocksdb::ReadOptions ro;
  rocksdb::WriteBatch batch;

  // What the batch has made of each partition so far: a commit may name a partition twice.
  struct Pending {
    MaybeRun last;     // the partition's last run, stored or in the batch
    bool has_floor = false;
  };
  std::map<SourcePartition, Pending> pending;

  for (const PartitionUpdate& update : updates) {
    const SourcePartition& p = update.partition;
    if (auto s = CheckPartition(p); !s.ok()) return s;
    auto [entry, inserted] = pending.try_emplace(p);
    Pending& state = entry->second;
    if (inserted) {
      RunCursor cursor(impl_->db.get(), ro, p);
      auto last = cursor.Last();
      if (!last.ok()) return last.status();
      state.last = last.value();
      auto floor = impl_->ReadFloor(ro, p);
      if (!floor.ok()) return floor.status();
      state.has_floor = floor.value().has_value();
    }

    const std::string run_prefix = PartitionKey(kRunPrefix, p);
    bool last_changed = false;
    for (const OffsetRun& run : update.runs) {
      if (auto s = CheckRun(p, run); !s.ok()) return s;
      if (!state.has_floor) {
        batch.Put(PartitionKey(kFloorPrefix, p), EncodeOffset(run.upstream));
        state.has_floor = true;
      }
      if (state.last) {
        const OffsetRun last = *state.last;
        const std::int64_t downstream_end = last.downstream + last.length;
        if (run.upstream < End(last) || run.downstream < downstream_end) {
          return Status::InvalidArgument(
              "run " + std::to_string(run.upstream) + "->" + std::to_string(run.downstream) +
              " of " + Name(p) + " overlaps or precedes the run " +
              std::to_string(last.upstream) + "->" + std::to_string(last.downstream) + " x" +
              std::to_string(last.length) + "; nothing was committed");
        }
        if (run.upstream == End(last) && run.downstream == downstream_end) {
          // Both logs continue without a gap: one longer run, not a new entry.
          state.last->length += run.length;
          last_changed = true;
          continue;
        }
        if (last_changed) batch.Put(RunKey(run_prefix, last.upstream), EncodeRunValue(last));
      }
      state.last = run;
      last_changed = true;
    }
    if (last_changed) {
      batch.Put(RunKey(run_prefix, state.last->upstream), EncodeRunValue(*state.last));
    }

    if (state.last && update.progress.next_source_offset < End(*state.last)) {
      return Status::InvalidArgument(
          "progress of " + Name(p) + " (next source offset " +
          std::to_string(update.progress.next_source_offset) + ") is below the end of its runs (" +
          std::to_string(End(*state.last)) + "); nothing was committed");
    }
    if (!state.has_floor) {
      batch.Put(PartitionKey(kFloorPrefix, p), EncodeOffset(update.progress.next_source_offset));
      state.has_floor = true;
    }
    batch.Put(PartitionKey(kProgressPrefix, p), EncodeProgress(update.progress));
    batch.Delete(PartitionKey(kPreparedPrefix, p));
  }
  return impl_->Write(batch, "committing");
}

Result<std::optional<PartitionProgress>> RocksDbCheckpointStore::Progress(
    const SourcePartition& p) {
  return impl_->ReadProgress(rocksdb::ReadOptions(), p);
}

Result<std::vector<std::pair<SourcePartition, PartitionProgress>>>
RocksDbCheckpointStore::AllProgress() {
  const std::string lower(1, kProgressPrefix);
  const std::string upper(1, static_cast<char>(kProgressPrefix + 1));
  const rocksdb::Slice lower_slice(lower);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro));

  std::vector<std::pair<SourcePartition, PartitionProgress>> all;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto p = DecodePartitionKey(std::string_view(it->key().data(), it->key().size()));
    if (!p) return Status::Corruption(impl_->Context("malformed progress key"));
    auto progress =
        DecodeProgress(std::string_view(it->value().data(), it->value().size()), *p);
    if (!progress.ok()) return Status::Corruption(impl_->Context(progress.status().message()));
    all.emplace_back(std::move(*p), std::move(progress).value());
  }
  if (!it->status().ok()) return FromRocks(it->status(), impl_->Context("reading progress"));
  // Key order puts shorter topic names first; callers expect names in order.
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return all;
}

Result<TranslatedOffset> RocksDbCheckpointStore::Translate(const SourcePartition& p,
                                                           std::int64_t offset) {
  // Progress, floor and runs must come from one point in time, whatever commits meanwhile.
  rocksdb::ManagedSnapshot snapshot(impl_->db.get());
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot.snapshot();
  auto exact = [](std::int64_t target) {
    return TranslatedOffset{Translation::kExact, target};
  };

  auto progress = impl_->ReadProgress(ro, p);
  if (!progress.ok()) return progress.status();
  if (!progress.value() || offset > progress.value()->next_source_offset) {
    return TranslatedOffset{Translation::kAheadOfReplication, -1};
  }

  RunCursor cursor(impl_->db.get(), ro, p);
  if (offset >= 0) {
    auto below = cursor.AtOrBelow(offset);
    if (!below.ok()) return below.status();
    if (below.value()) {
      const OffsetRun run = *below.value();
      if (offset < End(run)) return exact(run.downstream + (offset - run.upstream));
      auto next = cursor.Next();
      if (!next.ok()) return next.status();
      // In a gap: nothing from the gap is on the target, the consumer goes on with the next
      // copied record. Past the last run (but not ahead of progress): everything before
      // `offset` is on the target.
      if (next.value()) return exact(next.value()->downstream);
      return exact(run.downstream + run.length);
    }
  }

  auto floor = impl_->ReadFloor(ro, p);
  if (!floor.ok()) return floor.status();
  if (!floor.value()) {
    return Status::Corruption(impl_->Context(Name(p) + " has progress but no floor"));
  }
  if (offset < *floor.value()) return TranslatedOffset{Translation::kBeforeMap, -1};
  auto first = cursor.First();
  if (!first.ok()) return first.status();
  if (first.value()) return exact(first.value()->downstream);
  // No runs (nothing copied since the floor): the next copied record lands at the target's
  // end as of the last commit.
  return exact(progress.value()->next_target_offset);
}

Result<std::vector<OffsetRun>> RocksDbCheckpointStore::Runs(const SourcePartition& p,
                                                            std::int64_t from, std::int64_t to) {
  std::vector<OffsetRun> runs;
  if (from >= to) return runs;
  rocksdb::ManagedSnapshot snapshot(impl_->db.get());
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot.snapshot();
  RunCursor cursor(impl_->db.get(), ro, p);

  // Start at the run that may cross `from`, or at the first run.
  Result<MaybeRun> run = MaybeRun();
  if (from >= 0) run = cursor.AtOrBelow(from);
  if (run.ok() && !run.value()) run = cursor.First();
  for (; run.ok() && run.value(); run = cursor.Next()) {
    const OffsetRun& r = *run.value();
    if (r.upstream >= to) break;
    if (End(r) > from) runs.push_back(r);
  }
  if (!run.ok()) return run.status();
  return runs;
}

Status RocksDbCheckpointStore::TruncateFrom(const SourcePartition& p, std::int64_t upstream,
                                            const PartitionProgress& progress) {
  if (auto s = CheckPartition(p); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(impl_->write_mu);
  const rocksdb::ReadOptions ro;
  rocksdb::WriteBatch batch;
  RunCursor cursor(impl_->db.get(), ro, p);

  // The last run starting below `upstream` stays, shortened if it crosses it.
  MaybeRun kept;
  Result<MaybeRun> run = MaybeRun();
  if (upstream > 0) {
    run = cursor.AtOrBelow(upstream - 1);
    if (!run.ok()) return run.status();
    kept = run.value();
  }
  if (kept && End(*kept) > upstream) {
    kept->length = upstream - kept->upstream;
    batch.Put(RunKey(cursor.prefix(), kept->upstream), EncodeRunValue(*kept));
  }
  // Every later run goes.
  for (run = kept ? cursor.Next() : cursor.First(); run.ok() && run.value(); run = cursor.Next()) {
    batch.Delete(RunKey(cursor.prefix(), run.value()->upstream));
  }
  if (!run.ok()) return run.status();

  if (kept && progress.next_source_offset < End(*kept)) {
    return Status::InvalidArgument("progress of " + Name(p) + " (next source offset " +
                                   std::to_string(progress.next_source_offset) +
                                   ") is below the end of the runs it keeps (" +
                                   std::to_string(End(*kept)) + "); nothing was changed");
  }
  auto floor = impl_->ReadFloor(ro, p);
  if (!floor.ok()) return floor.status();
  if (!floor.value()) {
    // A partition the store did not know: as a first commit without runs.
    batch.Put(PartitionKey(kFloorPrefix, p), EncodeOffset(progress.next_source_offset));
  }
  batch.Put(PartitionKey(kProgressPrefix, p), EncodeProgress(progress));
  batch.Delete(PartitionKey(kPreparedPrefix, p));
  return impl_->Write(batch, "truncating " + Name(p));
}

Status RocksDbCheckpointStore::TrimBelow(const SourcePartition& p, std::int64_t upstream) {
  std::lock_guard<std::mutex> lock(impl_->write_mu);
  const rocksdb::ReadOptions ro;
  auto progress = impl_->ReadProgress(ro, p);
  if (!progress.ok()) return progress.status();
  if (!progress.value()) return Status::Ok();
  auto floor = impl_->ReadFloor(ro, p);
  if (!floor.ok()) return floor.status();

  rocksdb::WriteBatch batch;
  RunCursor cursor(impl_->db.get(), ro, p);
  // Runs are ordered and disjoint, so their ends ascend: stop at the first one reaching
  // `upstream` (a run crossing it stays whole, its upper part is still needed).
  Result<MaybeRun> run = cursor.First();
  for (; run.ok() && run.value() && End(*run.value()) <= upstream; run = cursor.Next()) {
    batch.Delete(RunKey(cursor.prefix(), run.value()->upstream));
  }
  if (!run.ok()) return run.status();
  if (!floor.value() || *floor.value() < upstream) {
    batch.Put(PartitionKey(kFloorPrefix, p), EncodeOffset(upstream));
  }
  if (batch.Count() == 0) return Status::Ok();
  return impl_->Write(batch, "trimming " + Name(p));
}

Status RocksDbCheckpointStore::Forget(const SourcePartition& p) {
  std::lock_guard<std::mutex> lock(impl_->write_mu);
  rocksdb::WriteBatch batch;
  batch.Delete(PartitionKey(kProgressPrefix, p));
  batch.Delete(PartitionKey(kFloorPrefix, p));
  batch.Delete(PartitionKey(kPreparedPrefix, p));
  // One range tombstone however many runs the partition has.
  const std::string run_prefix = PartitionKey(kRunPrefix, p);
  batch.DeleteRange(run_prefix, RunUpperBound(run_prefix));
  return impl_->Write(batch, "forgetting " + Name(p));
}

Status RocksDbCheckpointStore::Prepare(const std::vector<PartitionUpdate>& updates) {
  if (updates.empty()) return Status::Ok();
  rocksdb::WriteBatch batch;
  for (const PartitionUpdate& update : updates) {
    if (auto s = CheckPartition(update.partition); !s.ok()) return s;
    for (const OffsetRun& run : update.runs) {
      if (auto s = CheckRun(update.partition, run); !s.ok()) return s;
    }
    batch.Put(PartitionKey(kPreparedPrefix, update.partition), EncodePrepared(update));
  }
  std::lock_guard<std::mutex> lock(impl_->write_mu);
  return impl_->Write(batch, "preparing a commit");
}

Result<std::optional<PartitionUpdate>> RocksDbCheckpointStore::Prepared(
    const SourcePartition& p) {
  auto value = impl_->Get(rocksdb::ReadOptions(), PartitionKey(kPreparedPrefix, p),
                          "reading the prepared update of " + Name(p));
  if (!value.ok()) return value.status();
  if (!value.value()) return std::optional<PartitionUpdate>();
  auto update = DecodePrepared(*value.value(), p);
  if (!update.ok()) return Status::Corruption(impl_->Context(update.status().message()));
  return std::optional<PartitionUpdate>(std::move(update).value());
}

Status RocksDbCheckpointStore::DropPrepared(const std::vector<SourcePartition>& partitions) {
  if (partitions.empty()) return Status::Ok();
  std::lock_guard<std::mutex> lock(impl_->write_mu);
  rocksdb::WriteBatch batch;
  for (const SourcePartition& p : partitions) batch.Delete(PartitionKey(kPreparedPrefix, p));
  return impl_->Write(batch, "dropping prepared updates");
}

Result<std::int64_t> RocksDbCheckpointStore::Floor(const SourcePartition& p) {
  auto floor = impl_->ReadFloor(rocksdb::ReadOptions(), p);
  if (!floor.ok()) return floor.status();
  return floor.value().value_or(-1);
}

}  // namespace tern
