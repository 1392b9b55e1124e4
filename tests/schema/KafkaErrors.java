// Prints Kafka's error codes as kafka-clients defines them: "<code> <NAME>" per line.
// Run: java -cp "<kafka libs>/*" KafkaErrors.java
import org.apache.kafka.common.protocol.Errors;

public class KafkaErrors {
  public static void main(String[] args) {
    for (Errors e : Errors.values()) System.out.println(e.code() + " " + e.name());
  }
}
