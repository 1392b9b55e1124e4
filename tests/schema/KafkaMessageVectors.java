// Writes test vectors for Tern's message codecs: request and response bodies encoded by Apache
// Kafka's own client library. For each API and version asked for, it builds several instances of
// kafka-clients' generated message classes, fills them with seeded random values (only fields
// that exist in that version, nulls only where the version allows them, tagged fields sometimes
// left at their default, unknown tagged fields sometimes added), and serializes each with Kafka's
// own writer. A codec that decodes and re-encodes such a body must give back the same bytes.
//
// Run: java -cp "<kafka libs>/*" KafkaMessageVectors.java OUT_FILE [SEED [KEY[:LO-HI] ...]]
//   KEY[:LO-HI]  an API key and the versions wanted (default: every version kafka-clients has);
//                no keys means every API kafka-clients knows.
// Line: <api key> <version> <request|response> <hex body>  (no request or response header)
// A summary per API goes to stderr.

import java.io.PrintWriter;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.message.ApiMessageType;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.Message;
import org.apache.kafka.common.protocol.ObjectSerializationCache;
import org.apache.kafka.common.protocol.types.BoundField;
import org.apache.kafka.common.protocol.types.Field;
import org.apache.kafka.common.protocol.types.RawTaggedField;
import org.apache.kafka.common.protocol.types.Schema;
import org.apache.kafka.common.protocol.types.TaggedFields;
import org.apache.kafka.common.protocol.types.Type;
import org.apache.kafka.common.record.internal.BaseRecords;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.SimpleRecord;

public class KafkaMessageVectors {
  // Instances per API, version and direction. The first is all defaults, the second has every
  // field set (no nulls, no empty arrays), the rest are random.
  static final int INSTANCES = 8;
  static final int ATTEMPTS = 20;
  static final int MAX_DEPTH = 4;
  static int retries = 0;  // instances Kafka refused to write, replaced by fresh ones

  enum Style { DEFAULTS, FULL, RANDOM }

  // Elements of List<Integer> and the like are filled like the primitive fields.
  static final Map<Class<?>, Class<?>> UNBOXED = Map.of(Boolean.class, boolean.class,
      Byte.class, byte.class, Short.class, short.class, Integer.class, int.class,
      Long.class, long.class, Double.class, double.class);

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      System.err.println("usage: KafkaMessageVectors OUT_FILE [SEED [KEY[:LO-HI] ...]]");
      System.exit(2);
    }
    long seed = args.length > 1 ? Long.parseLong(args[1]) : 1;
    Map<Short, short[]> wanted = new TreeMap<>();
    for (int i = 2; i < args.length; i++) {
      String[] parts = args[i].split(":");
      ApiMessageType type = ApiMessageType.fromApiKey(Short.parseShort(parts[0]));
      short lo = type.lowestSupportedVersion();
      short hi = type.highestSupportedVersion(true);
      if (parts.length > 1) {
        String[] range = parts[1].split("-");
        lo = Short.parseShort(range[0]);
        hi = Short.parseShort(range[range.length - 1]);
      }
      wanted.put(type.apiKey(), new short[] {lo, hi});
    }
    if (wanted.isEmpty()) {
      for (ApiMessageType type : ApiMessageType.values()) {
        wanted.put(type.apiKey(),
            new short[] {type.lowestSupportedVersion(), type.highestSupportedVersion(true)});
      }
    }
    int failures = 0;
    try (PrintWriter out = new PrintWriter(Files.newBufferedWriter(Path.of(args[0])))) {
      for (Map.Entry<Short, short[]> e : wanted.entrySet()) {
        ApiMessageType type = ApiMessageType.fromApiKey(e.getKey());
        int written = 0;
        retries = 0;
        for (short v = e.getValue()[0]; v <= e.getValue()[1]; v++) {
          for (boolean request : new boolean[] {true, false}) {
            for (int i = 0; i < INSTANCES; i++) {
              Style style = i == 0 ? Style.DEFAULTS : i == 1 ? Style.FULL : Style.RANDOM;
              long s = seed * 1_000_003L + type.apiKey() * 10_007L + v * 101L + i * 2L
                  + (request ? 1 : 0);
              byte[] body = vector(type, request, v, style, new Random(s));
              if (body == null) {
                failures++;
                System.err.printf("%d %d %s: no encodable instance%n", type.apiKey(), v,
                    request ? "request" : "response");
                continue;
              }
              out.printf("%d %d %s %s%n", type.apiKey(), v, request ? "request" : "response",
                  hex(body));
              written++;
            }
          }
        }
        System.err.printf("%d %s: %d vectors, %d retries%n", type.apiKey(), type.name(), written,
            retries);
      }
    }
    System.exit(failures == 0 ? 0 : 1);
  }

  // One serialized instance; retries with fresh random values when Kafka refuses to write one.
  static byte[] vector(ApiMessageType type, boolean request, short v, Style style, Random rnd)
      throws Exception {
    Exception last = null;
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
      ApiMessage message = request ? type.newRequest() : type.newResponse();
      try {
        if (style != Style.DEFAULTS) fill(message, v, style, rnd, 0);
        return serialize(message, v);
      } catch (RuntimeException ex) {
        last = ex;
        retries++;
      }
    }
    System.err.printf("%d %d: %s%n", type.apiKey(), v, last);
    return null;
  }

  static byte[] serialize(Message message, short v) {
    ObjectSerializationCache cache = new ObjectSerializationCache();
    int size = message.size(cache, v);
    ByteBufferAccessor accessor = new ByteBufferAccessor(ByteBuffer.allocate(size));
    message.write(accessor, cache, v);
    ByteBuffer buffer = accessor.buffer();
    if (buffer.position() != size) {
      throw new IllegalStateException("wrote " + buffer.position() + " bytes, sized " + size);
    }
    return buffer.array();
  }

  // Sets every field the struct has at version v, using the struct's own schema for that version
  // to know which fields exist, which are tagged and which may be null.
  static void fill(Message struct, short v, Style style, Random rnd, int depth) throws Exception {
    Schema[] schemas = (Schema[]) struct.getClass().getField("SCHEMAS").get(null);
    Schema schema = v < schemas.length ? schemas[v] : null;
    if (schema == null) return;
    Map<String, Field> plain = new HashMap<>();
    Map<String, Field> tagged = new HashMap<>();
    int maxTag = -1;
    boolean flexible = false;
    for (BoundField bf : schema.fields()) {
      if (bf.def.type instanceof TaggedFields) {
        flexible = true;
        for (Map.Entry<Integer, Field> t : ((TaggedFields) bf.def.type).fields().entrySet()) {
          tagged.put(normalize(t.getValue().name), t.getValue());
          maxTag = Math.max(maxTag, t.getKey());
        }
      } else {
        plain.put(normalize(bf.def.name), bf.def);
      }
    }
    for (Method setter : setters(struct.getClass())) {
      String name = normalize(setter.getName().substring(3));
      Field field = plain.get(name);
      if (field == null) {
        field = tagged.get(name);
        if (field == null) continue;  // not in this version: leave the default
        if (style == Style.RANDOM && rnd.nextInt(3) == 0) continue;  // tagged, left default
      }
      Object value = value(setter.getParameterTypes()[0], setter.getGenericParameterTypes()[0],
          field.type, v, style, rnd, depth);
      setter.invoke(struct, value);
    }
    if (flexible && style == Style.RANDOM && rnd.nextInt(4) == 0) {
      // Tags this version does not define: a codec must carry them through unchanged.
      int tag = maxTag + 1 + rnd.nextInt(3);
      for (int n = 1 + rnd.nextInt(2); n > 0; n--) {
        struct.unknownTaggedFields().add(new RawTaggedField(tag, randomBytes(rnd, 6)));
        tag += 1 + rnd.nextInt(200);
      }
    }
  }

  static List<Method> setters(Class<?> c) {
    List<Method> out = new ArrayList<>();
    for (Method m : c.getMethods()) {
      if (m.getName().startsWith("set") && m.getParameterCount() == 1
          && !Modifier.isStatic(m.getModifiers()) && m.getReturnType() == c) {
        out.add(m);
      }
    }
    out.sort((a, b) -> a.getName().compareTo(b.getName()));  // reflection order is unspecified
    return out;
  }

  // Java's camelCase and the schema's snake_case name the same field.
  static String normalize(String name) {
    return name.replace("_", "").toLowerCase();
  }

  static Object value(Class<?> c, java.lang.reflect.Type generic, Type wire, short v, Style style,
      Random rnd, int depth) throws Exception {
    if (wire.isNullable() && style == Style.RANDOM && rnd.nextInt(4) == 0) return null;
    c = UNBOXED.getOrDefault(c, c);
    if (c == boolean.class) return style == Style.FULL || rnd.nextBoolean();
    if (c == byte.class) return (byte) integer(rnd, style);
    if (c == short.class) return (short) integer(rnd, style);
    if (c == int.class) {
      if (wire == Type.UINT16) return rnd.nextInt(65536);
      return (int) integer(rnd, style);
    }
    if (c == long.class) {
      if (wire == Type.UNSIGNED_INT32) return rnd.nextLong() & 0xFFFFFFFFL;
      return integer(rnd, style);
    }
    if (c == double.class) {
      double[] picks = {0.0, -0.0, 1.5, -273.15, Double.MAX_VALUE, Double.MIN_VALUE};
      return rnd.nextBoolean() ? picks[rnd.nextInt(picks.length)] : rnd.nextGaussian() * 1e6;
    }
    if (c == String.class) return string(rnd, style);
    if (c == byte[].class) return randomBytes(rnd, style == Style.FULL ? 1 + rnd.nextInt(8) : -1);
    if (c == ByteBuffer.class) {
      return ByteBuffer.wrap(randomBytes(rnd, style == Style.FULL ? 1 + rnd.nextInt(8) : -1));
    }
    if (c == Uuid.class) {
      return style == Style.RANDOM && rnd.nextInt(4) == 0 ? Uuid.ZERO_UUID
          : new Uuid(rnd.nextLong(), rnd.nextLong());
    }
    if (BaseRecords.class.isAssignableFrom(c)) return records(rnd, style);
    if (Message.class.isAssignableFrom(c)) {
      Message struct = (Message) c.getConstructor().newInstance();
      fill(struct, v, style, rnd, depth + 1);
      return struct;
    }
    if (Collection.class.isAssignableFrom(c)) {
      Class<?> element = elementClass(c, generic);
      Type elementWire = wire.arrayElementType().orElseThrow();
      @SuppressWarnings("unchecked")
      Collection<Object> list = c.isInterface() ? new ArrayList<>()
          : (Collection<Object>) c.getConstructor().newInstance();
      int count = style == Style.FULL ? 1 + rnd.nextInt(2)
          : depth >= MAX_DEPTH ? rnd.nextInt(2) : rnd.nextInt(4);
      for (int i = 0; i < count; i++) {
        Object e = value(element, element, elementWire, v, style, rnd, depth + 1);
        if (e == null) continue;  // elements are never null
        list.add(e);
      }
      return list;
    }
    throw new IllegalStateException("no value for " + c + " (" + wire + ")");
  }

  // The element class of a List<T> parameter or of a generated XxxCollection.
  static Class<?> elementClass(Class<?> c, java.lang.reflect.Type generic) {
    java.lang.reflect.Type t = c.isInterface() ? generic : c.getGenericSuperclass();
    java.lang.reflect.Type arg = ((ParameterizedType) t).getActualTypeArguments()[0];
    return (Class<?>) arg;
  }

  static long integer(Random rnd, Style style) {
    long[] picks = {0, 1, -1, 2, 127, -128, 32767, -32768, Integer.MAX_VALUE, Integer.MIN_VALUE,
        Long.MAX_VALUE, Long.MIN_VALUE, 1_700_000_000_000L};
    if (style == Style.FULL) return 1 + rnd.nextInt(1000);
    return rnd.nextBoolean() ? picks[rnd.nextInt(picks.length)] : rnd.nextLong();
  }

  static String string(Random rnd, Style style) {
    String[] pieces = {"orders", "topic-", "_", ".", "é", "ß", "Ω", "日本", "тест", "😀",
        "\u0000", " ", "a", "consumer-group", "𝄞"};
    int n = style == Style.FULL ? 1 + rnd.nextInt(4) : rnd.nextInt(5);
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < n; i++) b.append(pieces[rnd.nextInt(pieces.length)]);
    return b.toString();
  }

  // n < 0: a random length from 0 to 7.
  static byte[] randomBytes(Random rnd, int n) {
    byte[] b = new byte[n < 0 ? rnd.nextInt(8) : n];
    rnd.nextBytes(b);
    return b;
  }

  // A real magic-2 batch or two (sometimes gzip-compressed); the codec treats them as opaque.
  static BaseRecords records(Random rnd, Style style) {
    if (style == Style.RANDOM && rnd.nextInt(5) == 0) return MemoryRecords.EMPTY;
    ByteBuffer all = ByteBuffer.allocate(1 << 14);
    for (int b = 1 + rnd.nextInt(2); b > 0; b--) {
      SimpleRecord[] rs = new SimpleRecord[1 + rnd.nextInt(3)];
      for (int i = 0; i < rs.length; i++) {
        byte[] key = rnd.nextBoolean() ? null : ("key-" + i).getBytes(StandardCharsets.UTF_8);
        rs[i] = new SimpleRecord(1_700_000_000_000L + rnd.nextInt(100000), key,
            ("value " + rnd.nextInt()).getBytes(StandardCharsets.UTF_8));
      }
      Compression compression = rnd.nextInt(3) == 0 ? Compression.gzip().build() : Compression.NONE;
      all.put(MemoryRecords.withRecords(rnd.nextInt(1000), compression, rs).buffer());
    }
    all.flip();
    return MemoryRecords.readableRecords(all);
  }

  static String hex(byte[] bytes) {
    StringBuilder b = new StringBuilder(bytes.length * 2);
    for (byte x : bytes) b.append(Character.forDigit((x >> 4) & 0xF, 16))
        .append(Character.forDigit(x & 0xF, 16));
    return b.toString();
  }
}
