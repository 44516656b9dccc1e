// StreamsGroup: the streams_group_protocol scenario (KIP-1071), compiled
// only against kafka-clients and kafka-streams 4.x (setup.sh); Driver
// reaches it by reflection.
//
// A stateless Kafka Streams application with group.protocol=streams copies
// 20 records (filter out odd values, map the rest to upper case) from a
// 2-partition input topic to an output topic; the output must be exactly the
// 10 even records, mapped. describeStreamsGroups shows the group with one
// member while it runs.
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.Future;

import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.*;
import org.apache.kafka.streams.kstream.*;

public class StreamsGroup {
    public static void streamsGroupProtocol() throws Exception {
        String in = Driver.topic("streams_in"), out = Driver.topic("streams_out"), app = "app-" + in;
        final int n = 20;
        try (Admin a = Driver.admin()) {
            Driver.createTopic(a, in, 2, Map.of());
            Driver.createTopic(a, out, 1, Map.of());
        }
        try (var pr = Driver.producer(new Properties())) {
            List<Future<?>> fs = new ArrayList<>();
            for (int i = 0; i < n; i++) fs.add(pr.send(new ProducerRecord<>(in, i % 2, ("k" + i).getBytes(StandardCharsets.UTF_8), ("v" + i).getBytes(StandardCharsets.UTF_8))));
            for (Future<?> f : fs) f.get();
        }
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, app);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, Driver.bootstrap);
        p.put(StreamsConfig.GROUP_PROTOCOL_CONFIG, "streams");
        p.put(StreamsConfig.STATE_DIR_CONFIG, Files.createTempDirectory("compat-streams").toString());
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, (int) Driver.rf);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 200);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        StreamsBuilder b = new StreamsBuilder();
        b.stream(in, Consumed.with(Serdes.String(), Serdes.String()))
            .filter((k, v) -> Integer.parseInt(v.substring(1)) % 2 == 0)
            .mapValues(v -> v.toUpperCase())
            .to(out, Produced.with(Serdes.String(), Serdes.String()));
        try (KafkaStreams ks = new KafkaStreams(b.build(), p)) {
            ks.start();
            Map<String, String> got = new TreeMap<>();
            try (KafkaConsumer<byte[], byte[]> c = Driver.consumer(new Properties())) {
                TopicPartition tp = new TopicPartition(out, 0);
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                long deadline = System.currentTimeMillis() + 45000;
                while (got.size() < n / 2 && System.currentTimeMillis() < deadline) {
                    if (ks.state() == KafkaStreams.State.ERROR) throw new Driver.Fail("Kafka Streams reached ERROR");
                    for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200)))
                        got.put(new String(r.key(), StandardCharsets.UTF_8), new String(r.value(), StandardCharsets.UTF_8));
                }
            }
            Driver.check(got.size() == n / 2, "output has " + got.size() + " records, want " + n / 2 + " (state " + ks.state() + ")");
            for (int i = 0; i < n; i += 2) Driver.check(("V" + i).equals(got.get("k" + i)), "output k" + i + " = " + got.get("k" + i) + ", want V" + i);
            try (Admin a = Driver.admin()) {
                Driver.waitFor("describeStreamsGroups never showed the group with one member", 15000, () -> {
                    StreamsGroupDescription d = a.describeStreamsGroups(List.of(app)).all().get().get(app);
                    return d.members().size() == 1;
                });
            }
        }
    }
}
