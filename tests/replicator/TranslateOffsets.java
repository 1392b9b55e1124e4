import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.mirror.RemoteClusterUtils;

/**
 * Asks MirrorMaker 2's client library where a consumer group continues on the cluster it runs
 * on: RemoteClusterUtils.translateOffsets reads "<remote alias>.checkpoints.internal" there.
 *
 * Usage: java -cp 'connect-mirror-client.jar:kafka-clients.jar:...' TranslateOffsets.java
 *            BOOTSTRAP REMOTE_CLUSTER_ALIAS GROUP
 * Prints one line per partition, sorted: "TOPIC PARTITION OFFSET".
 */
public class TranslateOffsets {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: TranslateOffsets BOOTSTRAP REMOTE_CLUSTER_ALIAS GROUP");
            System.exit(2);
        }
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", args[0]);
        Map<TopicPartition, OffsetAndMetadata> offsets =
            RemoteClusterUtils.translateOffsets(props, args[1], args[2], Duration.ofSeconds(60));
        List<String> lines = new ArrayList<>();
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
            lines.add(e.getKey().topic() + " " + e.getKey().partition() + " "
                      + e.getValue().offset());
        }
        lines.sort(null);
        for (String line : lines) {
            System.out.println(line);
        }
    }
}
