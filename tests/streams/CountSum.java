// CountSum: the Kafka Streams application of tests/streams_test.go.
//
//   SELECT customerId, COUNT(*), SUM(amount) FROM orders GROUP BY customerId
//
// The input topic holds orders keyed by order id with the value
// "customerId,amount"; the application re-keys them by customer (a
// repartition topic APPLICATION_ID-by-customer-repartition, purged with
// DeleteRecords), aggregates count and sum in the state store "totals" (the
// compacted changelog topic APPLICATION_ID-totals-changelog) and writes
// "count,sum" per customer to the output topic, with
// processing.guarantee=exactly_once_v2 and two stream threads. It runs until its standard input
// reaches end of file (the test closes it once the output is complete, and a
// dying test closes it too) and exits with status 0 after a clean close, 1 if
// Streams reached the ERROR state.
//
// With GROUP_PROTOCOL "streams" the application uses the Streams rebalance
// protocol (KIP-1071, group.protocol=streams: the broker assigns tasks);
// without it, or with "classic", the classic protocol with the Streams
// partition assignor.
//
// usage: java -cp ... CountSum BOOTSTRAP INPUT OUTPUT APPLICATION_ID STATE_DIR [GROUP_PROTOCOL]
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.KeyValueStore;

public class CountSum {
    public static void main(String[] args) throws Exception {
        if (args.length != 5 && args.length != 6) {
            System.err.println("usage: CountSum BOOTSTRAP INPUT OUTPUT APPLICATION_ID STATE_DIR [GROUP_PROTOCOL]");
            System.exit(2);
        }
        String bootstrap = args[0], input = args[1], output = args[2], appId = args[3], stateDir = args[4];
        String groupProtocol = args.length == 6 ? args[5] : "classic";

        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 2);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 200);
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        if (groupProtocol.equals("streams")) {
            // Session timeout and heartbeat interval are the broker's
            // (group.streams.*, or the group's streams.* configs).
            p.put(StreamsConfig.GROUP_PROTOCOL_CONFIG, "streams");
        } else {
            // Fast failure detection so a killed broker costs seconds, not minutes.
            p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 6000);
            p.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), 500);
        }
        p.put(StreamsConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 1000);
        // Purge consumed repartition records (DeleteRecords) every second,
        // not every 30 s, so the test sees it.
        p.put(StreamsConfig.REPARTITION_PURGE_INTERVAL_MS_CONFIG, 1000);
        // No record cache: every order updates the changelog and the output
        // (more transactional traffic). Internal topics roll a segment every
        // 2 s and the changelog is compacted as soon as anything is dirty,
        // so the broker compacts transactional data (commit and abort
        // markers, aborted records) while the run goes on, and a restore
        // reads a compacted changelog.
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        p.put(StreamsConfig.topicPrefix(TopicConfig.SEGMENT_MS_CONFIG), 2000);
        p.put(StreamsConfig.topicPrefix(TopicConfig.MIN_CLEANABLE_DIRTY_RATIO_CONFIG), 0.01);

        StreamsBuilder b = new StreamsBuilder();
        b.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
            .map((orderId, v) -> {
                int comma = v.indexOf(',');
                return KeyValue.pair(v.substring(0, comma), Long.parseLong(v.substring(comma + 1)));
            })
            .groupByKey(Grouped.with("by-customer", Serdes.String(), Serdes.Long()))
            .aggregate(() -> "0,0", (customer, amount, agg) -> {
                int comma = agg.indexOf(',');
                long count = Long.parseLong(agg.substring(0, comma)) + 1;
                long sum = Long.parseLong(agg.substring(comma + 1)) + amount;
                return count + "," + sum;
            }, Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("totals")
                .withKeySerde(Serdes.String()).withValueSerde(Serdes.String()))
            .toStream()
            .to(output, Produced.with(Serdes.String(), Serdes.String()));

        KafkaStreams streams = new KafkaStreams(b.build(), p);
        AtomicBoolean failed = new AtomicBoolean();
        CountDownLatch stopped = new CountDownLatch(1);
        // A thread that dies (for example fenced while the broker restarts)
        // is replaced; the state is restored from the changelog.
        streams.setUncaughtExceptionHandler(e -> {
            System.err.println("CountSum: stream thread failed, replacing it: " + e);
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.REPLACE_THREAD;
        });
        streams.setStateListener((now, before) -> {
            System.err.println("CountSum: state " + before + " -> " + now);
            if (now == KafkaStreams.State.ERROR) {
                failed.set(true);
                stopped.countDown();
            }
        });
        Thread stdin = new Thread(() -> {
            try {
                while (System.in.read() >= 0) {
                }
            } catch (java.io.IOException e) {
                // end of input either way
            }
            stopped.countDown();
        }, "stdin-watch");
        stdin.setDaemon(true);
        stdin.start();
        streams.start();
        stopped.await();
        boolean closed = streams.close(Duration.ofSeconds(30));
        System.err.println("CountSum: closed=" + closed + " failed=" + failed.get());
        System.exit(failed.get() || !closed ? 1 : 0);
    }
}
