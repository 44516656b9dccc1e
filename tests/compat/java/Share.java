// Share: the share_group scenario (KIP-932) for kafka-clients 4.x, compiled
// only against 4.x (setup.sh); Driver reaches it by reflection.
//
// Produces 20 records to a 2-partition topic, sets the group's
// share.auto.offset.reset=earliest (a GROUP config resource), and runs two
// KafkaShareConsumer members in explicit acknowledgement mode: every record
// is accepted exactly once, except that the first delivery of key k0 is
// RELEASEd, so it must come back with delivery count 2 and be accepted then.
// While both run, describeShareGroups lists two members and
// listGroups(forShareGroups) lists the group with type SHARE; afterwards
// listShareGroupOffsets, alterShareGroupOffsets, deleteShareGroupOffsets and
// deleteShareGroups are checked.
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;

import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.*;

public class Share {
    public static void shareGroup() throws Exception {
        String t = Driver.topic("share_group"), g = "sg-" + t;
        final int n = 20;
        try (Admin a = Driver.admin()) {
            Driver.createTopic(a, t, 2, Map.of());
            ConfigResource gr = new ConfigResource(ConfigResource.Type.GROUP, g);
            a.incrementalAlterConfigs(Map.of(gr, List.of(new AlterConfigOp(new ConfigEntry("share.auto.offset.reset", "earliest"), AlterConfigOp.OpType.SET)))).all().get();
        }
        List<Driver.Rec> recs = Driver.values("v", n);
        Properties pp = new Properties();
        try (var pr = Driver.producer(pp)) {
            List<Future<?>> fs = new ArrayList<>();
            for (int i = 0; i < n; i++) fs.add(pr.send(new org.apache.kafka.clients.producer.ProducerRecord<>(t, i % 2, recs.get(i).key, recs.get(i).value)));
            for (Future<?> f : fs) f.get();
        }
        Map<String, Integer> accepted = new ConcurrentHashMap<>();
        AtomicBoolean released = new AtomicBoolean();
        AtomicInteger k0Count = new AtomicInteger(-1);
        AtomicReference<String> err = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        for (int m = 0; m < 2; m++) {
            final int member = m;
            Thread th = new Thread(() -> {
                Properties p = Driver.props();
                p.put("client.id", "compat-" + Driver.client + "-share-" + member);
                p.put("group.id", g);
                p.put("share.acknowledgement.mode", "explicit");
                try (KafkaShareConsumer<byte[], byte[]> c = new KafkaShareConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
                    c.subscribe(List.of(t));
                    while (!stop.get()) {
                        ConsumerRecords<byte[], byte[]> rs = c.poll(Duration.ofMillis(200));
                        for (ConsumerRecord<byte[], byte[]> r : rs) {
                            String k = new String(r.key(), StandardCharsets.UTF_8);
                            int dc = r.deliveryCount().map(Short::intValue).orElse(-1);
                            if (k.equals("k0") && dc == 1 && released.compareAndSet(false, true)) {
                                c.acknowledge(r, AcknowledgeType.RELEASE);
                                continue;
                            }
                            if (k.equals("k0")) k0Count.set(dc);
                            c.acknowledge(r, AcknowledgeType.ACCEPT);
                            accepted.merge(k, 1, Integer::sum);
                        }
                        if (!rs.isEmpty()) {
                            for (var e : c.commitSync().entrySet())
                                if (e.getValue().isPresent()) err.compareAndSet(null, "commitSync " + e.getKey() + ": " + e.getValue().get());
                        }
                    }
                } catch (Exception e) {
                    err.compareAndSet(null, "member " + member + ": " + e);
                }
            });
            th.setDaemon(true);
            th.start();
            threads.add(th);
        }
        try (Admin a = Driver.admin()) {
            try {
                Driver.waitFor("describeShareGroups never showed two members", 30000, () -> {
                    ShareGroupDescription d = a.describeShareGroups(List.of(g)).all().get().get(g);
                    return d.members().size() == 2;
                });
                // ListGroups by type (v5) lists it as a share group.
                Driver.waitFor("listGroups(forShareGroups) does not list the group as a share group", 10000, () ->
                    a.listGroups(ListGroupsOptions.forShareGroups()).all().get().stream()
                        .anyMatch(l -> l.groupId().equals(g) && l.type().map(ty -> ty == GroupType.SHARE).orElse(false)));
                Driver.waitFor("accepted " + accepted.size() + " of " + n + " records", 40000, () -> {
                    if (err.get() != null) throw new Driver.Fail(err.get());
                    return accepted.size() == n && k0Count.get() >= 0;
                });
                // The acknowledgements are committed: nothing left to deliver.
                AtomicReference<Object> lastOff = new AtomicReference<>();
                try { Driver.waitFor("listShareGroupOffsets never showed both partitions done (lag 0, or start offset 10)", 20000, () -> {
                    Map<TopicPartition, SharePartitionOffsetInfo> off = a.listShareGroupOffsets(Map.of(g, new ListShareGroupOffsetsSpec())).partitionsToOffsetInfo(g).get();
                    lastOff.set(off);
                    SharePartitionOffsetInfo p0 = off.get(new TopicPartition(t, 0)), p1 = off.get(new TopicPartition(t, 1));
                    // Kafka 4.4 may keep the start offset behind (its persisted
                    // state advances in batches) but reports lag 0 (KIP-1226).
                    for (SharePartitionOffsetInfo i : new SharePartitionOffsetInfo[]{p0, p1})
                        if (i == null || i.lag().map(l -> l != 0).orElse(i.startOffset() != n / 2)) return false;
                    return true;
                }); } catch (Driver.Fail f) { throw new Driver.Fail(f.getMessage() + " (last: " + lastOff.get() + ")"); }
            } finally {
                stop.set(true);
                for (Thread th : threads) th.join(15000);
            }
            if (err.get() != null) throw new Driver.Fail(err.get());
            for (var e : accepted.entrySet()) Driver.check(e.getValue() == 1, "record " + e.getKey() + " accepted " + e.getValue() + " times");
            Driver.check(k0Count.get() == 2, "released record k0 accepted with delivery count " + k0Count.get() + ", want 2");
            // An empty group's start offsets can be altered, then deleted, then the group.
            Driver.waitFor("share group never empty after both members closed", 20000, () ->
                a.describeShareGroups(List.of(g)).all().get().get(g).members().isEmpty());
            TopicPartition tp0 = new TopicPartition(t, 0);
            a.alterShareGroupOffsets(g, Map.of(tp0, 3L)).all().get();
            long start = a.listShareGroupOffsets(Map.of(g, new ListShareGroupOffsetsSpec())).partitionsToOffsetInfo(g).get().get(tp0).startOffset();
            Driver.check(start == 3, "start offset after alterShareGroupOffsets to 3: " + start);
            a.deleteShareGroupOffsets(g, Set.of(t)).all().get();
            a.deleteShareGroups(List.of(g)).all().get();
        }
    }
}
