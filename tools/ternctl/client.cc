#include "tools/ternctl/client.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace tern::ternctl {
namespace {

Result<std::string> ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot read " + what + " " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

}  // namespace

Result<ApiClient> ApiClient::Create(const TernctlFlags& flags) {
  ApiClient client;
  client.server_ = flags.server.ToString();
  client.timeout_seconds_ = flags.timeout_seconds;
  if (!flags.token_file.empty()) {
    auto token = ReadFile(flags.token_file, "the token file");
    if (!token.ok()) return token.status();
    client.token_ = Trim(token.value());
    if (client.token_.empty()) {
      return Status::InvalidArgument("the token file " + flags.token_file + " is empty");
    }
  } else if (const char* env = std::getenv("TERN_API_TOKEN"); env != nullptr) {
    client.token_ = Trim(env);
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (!flags.tls_ca.empty()) {
    auto ca = ReadFile(flags.tls_ca, "the CA certificate");
    if (!ca.ok()) return ca.status();
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ca.value();
    credentials = grpc::SslCredentials(options);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  client.channel_ = grpc::CreateChannel(client.server_, credentials);
  client.stub_ = api::ReplicatorService::NewStub(client.channel_);
  return client;
}

void ApiClient::Prepare(grpc::ClientContext& context, bool streaming) const {
  if (!token_.empty()) context.AddMetadata("authorization", "Bearer " + token_);
  if (!streaming) {
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(static_cast<long>(timeout_seconds_ * 1000)));
  }
}

std::string ApiClient::Describe(const grpc::Status& status) const {
  const std::string detail = status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return "cannot reach tern-replicator at " + server_ + " (" + detail +
             "); is it running with grpc.listen set to that address? (--server)";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "tern-replicator at " + server_ + " did not answer in time (--timeout)";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "tern-replicator at " + server_ + " refused the call: " + detail +
             " (give the API token with --token-file or $TERN_API_TOKEN)";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "tern-replicator at " + server_ + " does not offer this call: " + detail;
    default:
      return detail.empty() ? "call failed with code " +
                                  std::to_string(static_cast<int>(status.error_code()))
                            : detail;
  }
}

}  // namespace tern::ternctl
