// The Java client (kafka-clients) against a secured Moldau listener, for
// tests/security_java_test.go:
//
//   java -cp ... SecureClient CLIENT_PROPERTIES TOPIC ok|auth_failure VALUE...
//   java -cp ... SecureClient CLIENT_PROPERTIES TOPIC reauth:MILLISECONDS
//
// CLIENT_PROPERTIES holds bootstrap.servers and the client's security
// settings exactly as an application would write them (security.protocol,
// sasl.mechanism, sasl.jaas.config, ssl.truststore.*, ssl.keystore.*). With
// "ok" the values are produced to partition 0 and read back with an assigned
// consumer; with "auth_failure" producing must fail with an
// AuthenticationException (SaslAuthenticationException, SslAuthenticationException).
// With "reauth:MS" one record is produced every 100 ms for MS milliseconds
// and the producer's successful-reauthentication-total must be above zero
// (KIP-368, with the broker's connections.max.reauth.ms below MS).
// The last line printed is "OK ..." or "FAIL ...", and the exit status 0 or 1.

import java.io.FileInputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class SecureClient {
    public static void main(String[] args) throws Exception {
        Properties base = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            base.load(in);
        }
        String topic = args[1];
        if (args[2].startsWith("reauth:")) {
            reauth(base, topic, Long.parseLong(args[2].substring("reauth:".length())));
            return;
        }
        boolean expectOK = args[2].equals("ok");
        List<String> values = Arrays.asList(args).subList(3, args.length);

        Properties pp = new Properties();
        pp.putAll(base);
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        pp.put("max.block.ms", "15000");
        pp.put("delivery.timeout.ms", "20000");
        pp.put("request.timeout.ms", "10000");
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
            for (String v : values) {
                p.send(new ProducerRecord<>(topic, 0, null, v)).get(20, TimeUnit.SECONDS);
            }
        } catch (ExecutionException e) {
            finish(expectOK, e.getCause());
            return;
        } catch (AuthenticationException e) {
            finish(expectOK, e);
            return;
        }
        if (!expectOK) {
            System.out.println("FAIL produced " + values.size() + " records with wrong credentials");
            System.exit(1);
        }

        Properties cp = new Properties();
        cp.putAll(base);
        cp.put("key.deserializer", StringDeserializer.class.getName());
        cp.put("value.deserializer", StringDeserializer.class.getName());
        cp.put("enable.auto.commit", "false");
        cp.put("auto.offset.reset", "earliest");
        List<String> got = new ArrayList<>();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(cp)) {
            TopicPartition tp = new TopicPartition(topic, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long deadline = System.currentTimeMillis() + 20000;
            while (got.size() < values.size() && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    got.add(r.value());
                }
            }
        }
        if (!got.equals(values)) {
            System.out.println("FAIL read back " + got + ", want " + values);
            System.exit(1);
        }
        System.out.println("OK read back " + got.size() + " records");
    }

    // reauth produces for ms milliseconds and reports the producer's
    // re-authentications.
    static void reauth(Properties base, String topic, long ms) throws Exception {
        Properties pp = new Properties();
        pp.putAll(base);
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
            long end = System.currentTimeMillis() + ms;
            int n = 0;
            while (System.currentTimeMillis() < end) {
                p.send(new ProducerRecord<>(topic, 0, null, "reauth-" + n)).get(20, TimeUnit.SECONDS);
                n++;
                Thread.sleep(100);
            }
            double reauths = 0, failed = 0;
            for (var e : p.metrics().entrySet()) {
                if (!e.getKey().group().equals("producer-metrics")) continue;
                Object v = e.getValue().metricValue();
                if (!(v instanceof Double)) continue;
                if (e.getKey().name().equals("successful-reauthentication-total")) reauths += (Double) v;
                if (e.getKey().name().equals("failed-reauthentication-total")) failed += (Double) v;
            }
            if (reauths < 1 || failed > 0) {
                System.out.println("FAIL " + n + " records, successful-reauthentication-total " + reauths + ", failed " + failed);
                System.exit(1);
            }
            System.out.println("OK " + n + " records, successful-reauthentication-total " + reauths);
        }
    }

    // finish reports a produce failure: expected when it is an
    // authentication failure and one was expected.
    static void finish(boolean expectOK, Throwable e) {
        if (!expectOK && e instanceof AuthenticationException) {
            System.out.println("OK " + e.getClass().getSimpleName() + ": " + e.getMessage());
            System.exit(0);
        }
        System.out.println("FAIL " + e.getClass().getName() + ": " + e.getMessage());
        System.exit(1);
    }
}
