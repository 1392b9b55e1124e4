// Prints the wire schemas that Apache Kafka's own client library uses, one line per API,
// version and direction, in the canonical form that kafka/schema/gen.py also prints for Tern's
// definitions, so a test can compare the two field by field.
//
// Run: java -cp "<kafka libs>/*" KafkaSchemaDump.java [API_KEY ...]
// Line: <api key> <version> <request|response> <canonical schema>
// Canonical schema: {name:TYPE,...} with arrays as ARRAY(...)/COMPACT_ARRAY(...) around the
// element, and tagged fields as TAGS(tag=name:TYPE,...) in tag order.

import java.lang.reflect.Field;
import java.util.Map;
import java.util.TreeMap;
import java.util.Set;
import java.util.HashSet;
import org.apache.kafka.common.message.ApiMessageType;
import org.apache.kafka.common.protocol.types.*;

public class KafkaSchemaDump {
  public static void main(String[] args) throws Exception {
    Set<Integer> wanted = new HashSet<>();
    for (String a : args) wanted.add(Integer.parseInt(a));
    for (ApiMessageType t : ApiMessageType.values()) {
      if (!wanted.isEmpty() && !wanted.contains((int) t.apiKey())) continue;
      Schema[] rq = t.requestSchemas(), rs = t.responseSchemas();
      for (int v = t.lowestSupportedVersion(); v <= t.highestSupportedVersion(true); v++) {
        System.out.println(t.apiKey() + " " + v + " request " + schema(rq[v]));
        System.out.println(t.apiKey() + " " + v + " response " + schema(rs[v]));
      }
    }
  }

  static String schema(Schema s) throws Exception {
    StringBuilder b = new StringBuilder("{");
    boolean first = true;
    for (BoundField f : s.fields()) {
      if (!first) b.append(',');
      first = false;
      if (f.def.type instanceof TaggedFields) {
        b.append("TAGS(").append(tags((TaggedFields) f.def.type)).append(')');
      } else {
        b.append(f.def.name).append(':').append(type(f.def.type));
      }
    }
    return b.append('}').toString();
  }

  @SuppressWarnings("unchecked")
  static String tags(TaggedFields tf) throws Exception {
    Field inner = TaggedFields.class.getDeclaredField("fields");
    inner.setAccessible(true);
    Map<Integer, org.apache.kafka.common.protocol.types.Field> fields =
        new TreeMap<>((Map<Integer, org.apache.kafka.common.protocol.types.Field>) inner.get(tf));
    StringBuilder b = new StringBuilder();
    boolean first = true;
    for (Map.Entry<Integer, org.apache.kafka.common.protocol.types.Field> e : fields.entrySet()) {
      if (!first) b.append(',');
      first = false;
      b.append(e.getKey()).append('=').append(e.getValue().name).append(':')
          .append(type(e.getValue().type));
    }
    return b.toString();
  }

  static String type(Type t) throws Exception {
    if (t instanceof Schema) return schema((Schema) t);
    if (t.isArray()) {
      String name = t.toString();
      String kind = name.substring(0, name.indexOf('('));
      return kind + "(" + type(t.arrayElementType().get()) + ")";
    }
    return t.toString();
  }
}
