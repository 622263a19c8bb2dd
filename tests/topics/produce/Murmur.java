// Prints Kafka's own murmur2 partition for each hex-encoded key read from stdin, using
// org.apache.kafka.common.utils.Utils from the kafka-clients jar: independent test vectors.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.HexFormat;
import org.apache.kafka.common.utils.Utils;

public class Murmur {
    public static void main(String[] args) throws Exception {
        int partitions = Integer.parseInt(args[0]);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        String line;
        StringBuilder out = new StringBuilder();
        while ((line = in.readLine()) != null) {
            byte[] key = HexFormat.of().parseHex(line.trim());
            int hash = Utils.murmur2(key);
            out.append(hash).append(' ').append(Utils.toPositive(hash) % partitions).append('\n');
        }
        System.out.print(out);
    }
}
