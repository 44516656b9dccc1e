// Telemetry: the client_telemetry scenario (KIP-714) for kafka-clients 3.7+,
// compiled only against 4.x and 3.9 (setup.sh); Driver reaches it by
// reflection.
//
// Creates a client-metrics subscription through the admin API
// (IncrementalAlterConfigs on a CLIENT_METRICS resource matching this run's
// client id, push interval 500 ms), checks describeConfigs (and, on 4.x,
// listConfigResources) show it, then runs a producer with metrics push on:
// clientInstanceId() returns once GetTelemetrySubscriptions has answered,
// the subscription the client holds must be ours (its 500 ms interval),
// and a PushTelemetry must succeed: the client's telemetry sender (read by
// reflection: the client has no public hook) is back in PUSH_NEEDED with the
// same subscription and a later last-request time, which only a successful
// push response does (an error drops or replaces the subscription or
// disables telemetry).
import java.lang.reflect.*;
import java.time.Duration;
import java.util.*;

import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.config.ConfigResource;

public class Telemetry {
    static Object field(Object o, String name) throws Exception {
        for (Class<?> c = o.getClass(); c != null; c = c.getSuperclass()) {
            try {
                Field f = c.getDeclaredField(name);
                f.setAccessible(true);
                return f.get(o);
            } catch (NoSuchFieldException e) { /* up */ }
        }
        throw new NoSuchFieldException(o.getClass().getName() + "." + name);
    }

    public static void clientTelemetry() throws Exception {
        String t = Driver.topic("client_telemetry");
        String cid = "compat-telemetry-" + Integer.toUnsignedString(Driver.rnd.nextInt());
        String sub = "sub-" + cid;
        ConfigResource res = new ConfigResource(ConfigResource.Type.CLIENT_METRICS, sub);
        try (Admin a = Driver.admin()) {
            Driver.createTopic(a, t, 1, Map.of());
            a.incrementalAlterConfigs(Map.of(res, List.of(
                new AlterConfigOp(new ConfigEntry("metrics", "org.apache.kafka.producer."), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("interval.ms", "500"), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("match", "client_id=" + cid), AlterConfigOp.OpType.SET)))).all().get();
            Driver.waitFor("describeConfigs does not show the subscription's interval.ms=500", 10000, () -> {
                ConfigEntry e = a.describeConfigs(List.of(res)).all().get().get(res).get("interval.ms");
                return e != null && "500".equals(e.value());
            });
            if (Driver.major >= 4) { // ListConfigResources (KIP-1142, 4.1+; by reflection: this compiles against 3.9 too)
                Method list = Admin.class.getMethod("listConfigResources");
                Driver.waitFor("listConfigResources does not list the subscription", 10000, () -> {
                    Object r = list.invoke(a);
                    Object all = ((org.apache.kafka.common.KafkaFuture<?>) r.getClass().getMethod("all").invoke(r)).get();
                    return ((Collection<?>) all).contains(res);
                });
            }
        }
        Properties p = new Properties();
        p.put("client.id", cid);
        p.put("enable.metrics.push", "true");
        try (KafkaProducer<byte[], byte[]> pr = Driver.producer(p)) {
            pr.send(new ProducerRecord<>(t, 0, null, "v".getBytes())).get();
            pr.clientInstanceId(Duration.ofSeconds(15)); // GetTelemetrySubscriptions answered
            Object reporter = ((Optional<?>) field(pr, "clientTelemetryReporter")).orElseThrow(() -> new Driver.Fail("producer has no telemetry reporter"));
            Object sender = reporter.getClass().getMethod("telemetrySender").invoke(reporter);
            Object s0 = field(sender, "subscription");
            Driver.check(s0 != null, "no subscription after clientInstanceId");
            int interval = (Integer) field(s0, "pushIntervalMs");
            Driver.check(interval == 500, "subscription push interval " + interval + " ms, want 500 (ours)");
            long last0 = (Long) field(sender, "lastRequestMs");
            Driver.waitFor("no successful PushTelemetry (state " + field(sender, "state") + ")", 15000, () ->
                field(sender, "subscription") == s0 && (Boolean) field(sender, "enabled")
                    && "PUSH_NEEDED".equals(String.valueOf(field(sender, "state")))
                    && (Long) field(sender, "lastRequestMs") > last0);
        }
        try (Admin a = Driver.admin()) {
            a.incrementalAlterConfigs(Map.of(res, List.of(
                new AlterConfigOp(new ConfigEntry("metrics", ""), AlterConfigOp.OpType.DELETE),
                new AlterConfigOp(new ConfigEntry("interval.ms", ""), AlterConfigOp.OpType.DELETE),
                new AlterConfigOp(new ConfigEntry("match", ""), AlterConfigOp.OpType.DELETE)))).all().get();
        }
    }
}
