// Driver runs the compatibility scenarios (tests/compat/scenarios) through
// the Java client, org.apache.kafka:kafka-clients. One source compiles
// against 4.x, 3.x and 2.8 (setup.sh builds it three times); APIs that
// differ between them are reached by reflection.
//
//   java -cp build:jars/* Driver CLIENT-LABEL BOOTSTRAP scenario[,scenario...]
//
// Prints one JSON line per scenario: {"client","scenario","result","reason"}.
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.*;

public class Driver {
    static String client, bootstrap;
    // Replication factor of created topics: $COMPAT_RF (3 against a cluster, -cluster), else 1.
    static final short rf = Short.parseShort(System.getenv().getOrDefault("COMPAT_RF", "1"));
    // Broker count describeCluster must list: $COMPAT_BROKERS (1, or 3 with -cluster); 0: at least one.
    static final int brokers = Integer.parseInt(System.getenv().getOrDefault("COMPAT_BROKERS", "0"));
    static final String version = clientVersion();
    static final int major = Integer.parseInt(version.split("\\.")[0]);

    static String clientVersion() {
        try (var in = KafkaProducer.class.getResourceAsStream("/kafka/kafka-version.properties")) {
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version");
        } catch (Exception e) {
            throw new RuntimeException("kafka-clients version: " + e);
        }
    }
    static final Random rnd = new Random();

    static class NA extends RuntimeException { NA(String r) { super(r); } }
    static class Fail extends RuntimeException { Fail(String r) { super(r); } }

    static final class Rec {
        byte[] key, value; List<Header> headers = new ArrayList<>(); long ts = -1; long offset = -1;
        Rec(byte[] k, byte[] v) { key = k; value = v; }
    }

    public static void main(String[] args) throws Exception {
        client = args[0]; bootstrap = args[1];
        ExecutorService pool = Executors.newCachedThreadPool(r -> { Thread t = new Thread(r); t.setDaemon(true); return t; });
        for (String s : args[2].split(",")) {
            String result = "pass", reason = "";
            Future<?> f = pool.submit(() -> { run(s); return null; });
            try {
                f.get(timeoutSeconds(s), TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                f.cancel(true); result = "fail"; reason = "scenario did not finish within " + timeoutSeconds(s) + "s";
            } catch (ExecutionException e) {
                Throwable c = e.getCause();
                while ((c instanceof ExecutionException || c instanceof KafkaException && !(c instanceof org.apache.kafka.common.errors.ApiException)) && c.getCause() != null) c = c.getCause();
                if (c instanceof NA) { result = "na"; reason = c.getMessage(); }
                else { result = "fail"; reason = c.getClass().getSimpleName() + ": " + c.getMessage(); }
            }
            System.out.println("{\"client\":" + q(client) + ",\"scenario\":" + q(s) + ",\"result\":" + q(result) + ",\"reason\":" + q(reason) + "}");
            System.out.flush();
        }
        System.exit(0);
    }

    // Share groups, Streams and telemetry wait for heartbeats and pushes.
    static int timeoutSeconds(String s) {
        switch (s) {
            case "share_group": case "streams_group_protocol": return 90;
            case "client_telemetry": return 60;
            default: return 30;
        }
    }

    // callNew runs a scenario from a class compiled only against newer
    // kafka-clients (Share, Telemetry, StreamsGroup: setup.sh); without it,
    // the scenario is n/a for this client version.
    static void callNew(String cls, String method, String why) throws Exception {
        Class<?> c;
        try { c = Class.forName(cls); } catch (ClassNotFoundException e) { throw new NA("kafka-clients " + version + ": " + why); }
        try { c.getMethod(method).invoke(null); }
        catch (java.lang.reflect.InvocationTargetException e) {
            if (e.getCause() instanceof Exception) throw (Exception) e.getCause();
            throw new RuntimeException(e.getCause());
        }
    }

    static String q(String s) {
        if (s == null) s = "null";
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    static void run(String s) throws Exception {
        switch (s) {
            case "metadata": metadata(); break;
            case "topics_admin": topicsAdmin(); break;
            case "configs": configs(); break;
            case "produce_none": case "produce_gzip": case "produce_snappy": case "produce_lz4": case "produce_zstd":
                produceConsume(50, s.substring(8), "all", false); break;
            case "acks_0": produceConsume(10, "none", "0", false); break;
            case "acks_1": produceConsume(10, "none", "1", false); break;
            case "acks_all": produceConsume(10, "none", "all", false); break;
            case "idempotent": produceConsume(100, "none", "all", true); break;
            case "roundtrip": roundtrip(); break;
            case "consume_earliest": produceConsume(10, "none", "all", false); break;
            case "consume_latest": consumeLatest(); break;
            case "consume_timestamp": consumeTimestamp(); break;
            case "group_commit_resume": groupCommitResume(null, false); break;
            case "group_two_members": twoMembers(); break;
            case "transactions_read_committed": transactions(); break;
            case "static_membership": groupCommitResume("static-1", false); break;
            case "kip848":
                if (major < 4) throw new NA("kafka-clients " + version + ": the KIP-848 consumer is early access before 4.0");
                groupCommitResume(null, true); break;
            case "produce_record_errors":
                if (major < 3) throw new NA("kafka-clients " + version + " fails every record of a refused batch with the partition error (no per-record errors, KIP-467)");
                recordErrors(); break;
            case "share_group": callNew("Share", "shareGroup", "no share consumer before 4.0 (KIP-932 is in 4.x only)"); break;
            case "streams_group_protocol": callNew("StreamsGroup", "streamsGroupProtocol", "the driver runs Kafka Streams 4.4 only (group.protocol=streams, KIP-1071, needs Streams 4.1+)"); break;
            case "client_telemetry": callNew("Telemetry", "clientTelemetry", "no client metrics push before 3.7 (KIP-714)"); break;
            case "log_dirs": logDirs(); break;
            case "features": callNew("Features", "features", "no UpdateFeatures upgrade types or DescribeQuorum before 3.3 (KIP-778, KIP-836)"); break;
            default: throw new Fail("unknown scenario");
        }
    }

    static String topic(String s) { return "compat-" + s + "-" + Integer.toUnsignedString(rnd.nextInt()); }

    static Properties props() {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("client.id", "compat-" + client);
        return p;
    }

    static Admin admin() { return Admin.create(props()); }

    // describeTopic: allTopicNames() (3.1+) or all() (before).
    @SuppressWarnings("unchecked")
    static TopicDescription describeTopic(Admin a, String t) throws Exception {
        DescribeTopicsResult r = a.describeTopics(List.of(t));
        Method m;
        try { m = r.getClass().getMethod("allTopicNames"); } catch (NoSuchMethodException e) { m = r.getClass().getMethod("all"); }
        return ((KafkaFuture<Map<String, TopicDescription>>) m.invoke(r)).get().get(t);
    }

    static void createTopic(Admin a, String t, int parts, Map<String, String> cfg) throws Exception {
        a.createTopics(List.of(new NewTopic(t, parts, rf).configs(cfg))).all().get();
        // Kafka propagates a new topic asynchronously: wait until described.
        long deadline = System.currentTimeMillis() + 15000;
        while (true) {
            try {
                TopicDescription d = describeTopic(a, t);
                if (d.partitions().size() == parts && d.partitions().stream().allMatch(p -> p.leader() != null && p.leader().id() >= 0)) return;
            } catch (Exception e) {
                if (System.currentTimeMillis() > deadline) throw e;
            }
            if (System.currentTimeMillis() > deadline) throw new Fail("topic not fully described after create");
            Thread.sleep(100);
        }
    }

    static void check(boolean ok, String msg) { if (!ok) throw new Fail(msg); }

    static void metadata() throws Exception {
        String t = topic("metadata");
        try (Admin a = admin()) {
            createTopic(a, t, 3, Map.of());
            Collection<Node> nodes = a.describeCluster().nodes().get();
            check(nodes.size() >= 1 && (brokers == 0 || nodes.size() == brokers),
                  "describeCluster lists " + nodes.size() + " brokers, want " + Math.max(brokers, 1));
            check(a.describeCluster().controller().get() != null, "no controller");
            TopicDescription d = describeTopic(a, t);
            check(d.partitions().size() == 3, d.partitions().size() + " partitions, want 3");
        }
        try (KafkaConsumer<byte[], byte[]> c = consumer(new Properties())) {
            List<PartitionInfo> ps = c.partitionsFor(t);
            check(ps.size() == 3, "consumer metadata: " + ps.size() + " partitions, want 3");
            for (PartitionInfo p : ps) check(p.leader() != null && p.leader().id() >= 0, "partition " + p.partition() + " has no leader");
        }
    }

    static void waitFor(String what, Callable<Boolean> cond) throws Exception { waitFor(what, 20000, cond); }

    static void waitFor(String what, long ms, Callable<Boolean> cond) throws Exception {
        long deadline = System.currentTimeMillis() + ms;
        Exception last = null;
        while (System.currentTimeMillis() < deadline) {
            try { if (cond.call()) return; } catch (Fail f) { throw f; } catch (Exception e) { last = e; }
            Thread.sleep(200);
        }
        throw new Fail(what + (last != null ? ": " + last : ""));
    }

    // logDirs: DescribeLogDirs on every broker lists the new topic's three
    // partitions, each with a size > 0 after 10 records went to each; then
    // AlterReplicaLogDirs keeps partition 0's replicas where they are.
    static void logDirs() throws Exception {
        String t = topic("log_dirs");
        try (Admin a = admin()) {
            createTopic(a, t, 3, Map.of());
            try (KafkaProducer<byte[], byte[]> pr = producer(new Properties())) {
                List<Future<RecordMetadata>> fs = new ArrayList<>();
                for (int p = 0; p < 3; p++)
                    for (int i = 0; i < 10; i++) fs.add(pr.send(new ProducerRecord<>(t, p, null, ("v" + i).getBytes(StandardCharsets.UTF_8))));
                for (Future<RecordMetadata> f : fs) f.get();
            }
            List<Integer> ids = new ArrayList<>();
            for (Node n : a.describeCluster().nodes().get()) ids.add(n.id());
            Map<Integer, Long> size = new TreeMap<>();
            waitFor("describeLogDirs sizes of " + t + ": " + size + ", want 3 partitions with size > 0", () -> {
                size.clear();
                for (var broker : a.describeLogDirs(ids).allDescriptions().get().values())
                    for (LogDirDescription d : broker.values()) {
                        if (d.error() != null) throw new Fail("log dir " + d + ": " + d.error());
                        for (var e : d.replicaInfos().entrySet())
                            if (e.getKey().topic().equals(t)) size.merge(e.getKey().partition(), e.getValue().size(), Math::min);
                    }
                return size.size() == 3 && size.values().stream().allMatch(v -> v > 0);
            });
            // AlterReplicaLogDirs: each replica of partition 0 "moved" to the
            // directory it is in (a no-op every broker must accept).
            Map<TopicPartitionReplica, String> moves = new HashMap<>();
            for (var broker : a.describeLogDirs(ids).allDescriptions().get().entrySet())
                for (var d : broker.getValue().entrySet())
                    for (var tp : d.getValue().replicaInfos().keySet())
                        if (tp.topic().equals(t) && tp.partition() == 0) moves.put(new TopicPartitionReplica(t, 0, broker.getKey()), d.getKey());
            check(!moves.isEmpty(), "no replica of partition 0 to move");
            a.alterReplicaLogDirs(moves).all().get();
        }
    }

    static void topicsAdmin() throws Exception {
        String t = topic("topics_admin");
        try (Admin a = admin()) {
            createTopic(a, t, 2, Map.of());
            check(a.listTopics().names().get().contains(t), "listTopics does not include the new topic");
            a.createPartitions(Map.of(t, NewPartitions.increaseTo(3))).all().get();
            waitFor("3 partitions after createPartitions", () -> describeTopic(a, t).partitions().size() == 3);
            a.deleteTopics(List.of(t)).all().get();
            waitFor("topic still listed after delete", () -> !a.listTopics().names().get().contains(t));
        }
    }

    static void configs() throws Exception {
        String t = topic("configs");
        try (Admin a = admin()) {
            createTopic(a, t, 1, Map.of("retention.ms", "3600000"));
            ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, t);
            String v = a.describeConfigs(List.of(res)).all().get().get(res).get("retention.ms").value();
            check("3600000".equals(v), "retention.ms = " + v + " after create");
            a.incrementalAlterConfigs(Map.of(res, List.of(new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET)))).all().get();
            waitFor("retention.ms not 7200000 after alter", () -> "7200000".equals(a.describeConfigs(List.of(res)).all().get().get(res).get("retention.ms").value()));
        }
    }

    // recordErrors (KIP-467): one batch of 100 records to a compacted topic,
    // those at index 3, 13, ..., 93 without a key. The broker refuses the
    // batch listing exactly those 10; the producer fails them with
    // InvalidRecordException and the other 90 with another exception.
    static void recordErrors() throws Exception {
        String t = topic("record_errors");
        try (Admin a = admin()) {
            createTopic(a, t, 1, Map.of("cleanup.policy", "compact"));
        }
        Properties p = new Properties();
        p.put("acks", "all");
        p.put("enable.idempotence", "false");
        p.put("linger.ms", "1000");
        p.put("batch.size", "1048576");
        List<Integer> keyless = new ArrayList<>();
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> pr = producer(p)) {
            for (int i = 0; i < 100; i++) {
                byte[] key = null;
                if (i % 10 == 3) keyless.add(i); else key = ("k" + i).getBytes(StandardCharsets.UTF_8);
                fs.add(pr.send(new ProducerRecord<>(t, 0, key, ("v" + i).getBytes(StandardCharsets.UTF_8))));
            }
            pr.flush();
        }
        List<Integer> invalid = new ArrayList<>();
        String first = "";
        for (int i = 0; i < fs.size(); i++) {
            try {
                fs.get(i).get(20, TimeUnit.SECONDS);
                throw new Fail("record " + i + " was delivered");
            } catch (ExecutionException e) {
                Throwable c = e.getCause();
                if (i == 0) first = c.getClass().getSimpleName() + ": " + c.getMessage();
                if (c.getClass().getSimpleName().equals("InvalidRecordException")) invalid.add(i);
            }
        }
        check(invalid.equals(keyless), "records failed with InvalidRecordException: " + invalid + ", want " + keyless + " (record 0: " + first + ")");
    }

    static KafkaProducer<byte[], byte[]> producer(Properties extra) {
        Properties p = props();
        p.put("key.serializer", ByteArraySerializer.class.getName());
        p.put("value.serializer", ByteArraySerializer.class.getName());
        p.put("max.block.ms", "15000");
        p.put("linger.ms", "5");
        p.putAll(extra);
        return new KafkaProducer<>(p);
    }

    static KafkaConsumer<byte[], byte[]> consumer(Properties extra) {
        Properties p = props();
        p.put("key.deserializer", ByteArrayDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        p.putAll(extra);
        return new KafkaConsumer<>(p);
    }

    static List<Rec> values(String prefix, int n) {
        List<Rec> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(new Rec(("k" + i).getBytes(StandardCharsets.UTF_8), (prefix + i).getBytes(StandardCharsets.UTF_8)));
        return out;
    }

    static void produce(String t, List<Rec> recs, String codec, String acks, boolean idem, Properties extra) throws Exception {
        Properties p = new Properties();
        p.put("compression.type", codec);
        p.put("acks", acks);
        p.put("enable.idempotence", Boolean.toString(idem));
        if (extra != null) p.putAll(extra);
        try (KafkaProducer<byte[], byte[]> pr = producer(p)) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (Rec r : recs) fs.add(pr.send(new ProducerRecord<>(t, 0, r.ts < 0 ? null : r.ts, r.key, r.value, r.headers)));
            for (Future<RecordMetadata> f : fs) f.get();
        }
    }

    static List<Rec> read(Consumer<byte[], byte[]> c, int n) {
        List<Rec> out = new ArrayList<>();
        long deadline = System.currentTimeMillis() + 20000;
        while (out.size() < n) {
            if (System.currentTimeMillis() > deadline) throw new Fail("read " + out.size() + " of " + n + " records");
            for (ConsumerRecord<byte[], byte[]> cr : c.poll(Duration.ofMillis(200))) {
                Rec r = new Rec(cr.key(), cr.value());
                r.ts = cr.timestamp(); r.offset = cr.offset();
                for (Header h : cr.headers()) r.headers.add(h);
                out.add(r);
            }
        }
        return out;
    }

    static void sameKV(List<Rec> got, List<Rec> want) {
        check(got.size() >= want.size(), "got " + got.size() + " records, want " + want.size());
        for (int i = 0; i < want.size(); i++) {
            Rec g = got.get(i), w = want.get(i);
            check(Arrays.equals(g.key, w.key) && Arrays.equals(g.value, w.value), "record " + i + ": got " + str(g.key) + "=" + str(g.value) + ", want " + str(w.key) + "=" + str(w.value));
        }
        check(got.size() == want.size(), "got " + got.size() + " records, want " + want.size());
    }

    static String str(byte[] b) { return b == null ? "null" : new String(b, StandardCharsets.UTF_8); }

    static List<Rec> consumeFrom(String t, long start, int n, Runnable positioned) {
        try (KafkaConsumer<byte[], byte[]> c = consumer(new Properties())) {
            TopicPartition tp = new TopicPartition(t, 0);
            c.assign(List.of(tp));
            if (start == -2) c.seekToBeginning(List.of(tp));
            else if (start == -1) c.seekToEnd(List.of(tp));
            else c.seek(tp, start);
            c.position(tp); // resolve now
            if (positioned != null) positioned.run();
            return read(c, n);
        }
    }

    static void produceConsume(int n, String codec, String acks, boolean idem) throws Exception {
        String t = topic("produce");
        try (Admin a = admin()) { createTopic(a, t, 1, Map.of()); }
        List<Rec> want = values("v", n);
        produce(t, want, codec, acks, idem, null);
        List<Rec> got = consumeFrom(t, -2, n, null);
        sameKV(got, want);
        for (int i = 0; i < got.size(); i++) check(got.get(i).offset == i, "record " + i + " at offset " + got.get(i).offset);
    }

    static void roundtrip() throws Exception {
        String t = topic("roundtrip");
        try (Admin a = admin()) { createTopic(a, t, 1, Map.of()); }
        byte[] bin = new byte[256];
        for (int i = 0; i < 256; i++) bin[i] = (byte) i;
        long base = 1700000000123L;
        List<Rec> want = new ArrayList<>();
        Rec r1 = new Rec("key-1".getBytes(StandardCharsets.UTF_8), bin); r1.ts = base;
        r1.headers.add(new RecordHeader("h1", "v1".getBytes(StandardCharsets.UTF_8)));
        r1.headers.add(new RecordHeader("h1", "v2".getBytes(StandardCharsets.UTF_8)));
        r1.headers.add(new RecordHeader("empty", new byte[0]));
        r1.headers.add(new RecordHeader("bin", new byte[]{0, (byte) 0xff, (byte) 0x80}));
        Rec r2 = new Rec(null, "no key".getBytes(StandardCharsets.UTF_8)); r2.ts = base + 1000;
        Rec r3 = new Rec(new byte[]{0, 1, 2, (byte) 0xfe}, "ünïcödé ✓".getBytes(StandardCharsets.UTF_8)); r3.ts = base - 3600000;
        r3.headers.add(new RecordHeader("ключ", "значение".getBytes(StandardCharsets.UTF_8)));
        want.add(r1); want.add(r2); want.add(r3);
        produce(t, want, "none", "all", false, null);
        List<Rec> got = consumeFrom(t, -2, 3, null);
        sameKV(got, want);
        for (int i = 0; i < 3; i++) {
            Rec g = got.get(i), w = want.get(i);
            check((g.key == null) == (w.key == null), "record " + i + ": null key not preserved");
            check(g.ts == w.ts, "record " + i + ": timestamp " + g.ts + ", want " + w.ts);
            check(g.headers.size() == w.headers.size(), "record " + i + ": " + g.headers.size() + " headers, want " + w.headers.size());
            for (int j = 0; j < w.headers.size(); j++) {
                Header gh = g.headers.get(j), wh = w.headers.get(j);
                check(gh.key().equals(wh.key()) && Arrays.equals(gh.value(), wh.value()), "record " + i + " header " + j + " differs");
            }
        }
    }

    static void consumeLatest() throws Exception {
        String t = topic("consume_latest");
        try (Admin a = admin()) { createTopic(a, t, 1, Map.of()); }
        produce(t, values("old", 5), "none", "all", false, null);
        List<Rec> want = values("new", 5);
        List<Rec> got = consumeFrom(t, -1, 5, () -> {
            try { produce(t, want, "none", "all", false, null); } catch (Exception e) { throw new RuntimeException(e); }
        });
        sameKV(got, want);
        check(got.get(0).offset == 5, "first record at offset " + got.get(0).offset + ", want 5");
    }

    static void consumeTimestamp() throws Exception {
        String t = topic("consume_timestamp");
        try (Admin a = admin()) { createTopic(a, t, 1, Map.of()); }
        long base = System.currentTimeMillis() - 3600000;
        List<Rec> recs = values("v", 10);
        for (int i = 0; i < 10; i++) recs.get(i).ts = base + i * 1000L;
        produce(t, recs, "none", "all", false, null);
        long off;
        try (KafkaConsumer<byte[], byte[]> c = consumer(new Properties())) {
            TopicPartition tp = new TopicPartition(t, 0);
            OffsetAndTimestamp ot = c.offsetsForTimes(Map.of(tp, base + 4500)).get(tp);
            check(ot != null, "offsetsForTimes returned nothing");
            off = ot.offset();
        }
        check(off == 5, "offsetsForTimes = " + off + ", want 5");
        sameKV(consumeFrom(t, off, 5, null), recs.subList(5, 10));
    }

    static List<Rec> groupConsume(String group, String t, int n, long commitAt, String instance, boolean kip848) {
        Properties p = new Properties();
        p.put("group.id", group);
        if (instance != null) p.put("group.instance.id", instance);
        if (kip848) p.put("group.protocol", "consumer");
        try (KafkaConsumer<byte[], byte[]> c = consumer(p)) {
            c.subscribe(List.of(t));
            List<Rec> got = read(c, n);
            c.commitSync(Map.of(new TopicPartition(t, 0), new OffsetAndMetadata(commitAt)));
            return got.subList(0, n);
        }
    }

    static void groupCommitResume(String instance, boolean kip848) throws Exception {
        String t = topic("group");
        try (Admin a = admin()) { createTopic(a, t, 1, Map.of()); }
        List<Rec> recs = values("v", 10);
        produce(t, recs, "none", "all", false, null);
        String g = "g-" + t;
        sameKV(groupConsume(g, t, 10, 6, instance, kip848), recs);
        List<Rec> got = groupConsume(g, t, 4, 10, instance, kip848);
        try { sameKV(got, recs.subList(6, 10)); } catch (Fail f) { throw new Fail("second member did not resume at the committed offset 6: " + f.getMessage()); }
    }

    static void twoMembers() throws Exception {
        String t = topic("group_two_members");
        try (Admin a = admin()) { createTopic(a, t, 4, Map.of()); }
        String g = "g-" + t;
        List<Set<Integer>> owned = List.of(ConcurrentHashMap.newKeySet(), ConcurrentHashMap.newKeySet());
        List<AtomicBoolean> stop = List.of(new AtomicBoolean(), new AtomicBoolean());
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            final int m = i;
            Thread th = new Thread(() -> {
                Properties p = new Properties();
                p.put("group.id", g);
                try (KafkaConsumer<byte[], byte[]> c = consumer(p)) {
                    c.subscribe(List.of(t), new ConsumerRebalanceListener() {
                        public void onPartitionsRevoked(Collection<TopicPartition> ps) { for (TopicPartition tp : ps) owned.get(m).remove(tp.partition()); }
                        public void onPartitionsAssigned(Collection<TopicPartition> ps) { for (TopicPartition tp : ps) owned.get(m).add(tp.partition()); }
                    });
                    while (!stop.get(m).get()) c.poll(Duration.ofMillis(100));
                }
            });
            th.setDaemon(true);
            th.start();
            threads.add(th);
        }
        try {
            waitFor("two members never split the partitions (own " + owned.get(0) + " and " + owned.get(1) + ")",
                () -> !owned.get(0).isEmpty() && !owned.get(1).isEmpty() && owned.get(0).size() + owned.get(1).size() == 4);
            stop.get(1).set(true);
            threads.get(1).join(10000);
            waitFor("after one member left the other owns " + owned.get(0), () -> owned.get(0).size() == 4);
        } finally {
            stop.get(0).set(true); stop.get(1).set(true);
        }
    }

    static void transactions() throws Exception {
        String t = topic("transactions");
        try (Admin a = admin()) { createTopic(a, t, 1, Map.of()); }
        List<Rec> a = values("committed-a", 3), b = values("aborted-b", 3), c = values("committed-c", 3);
        Properties p = new Properties();
        p.put("transactional.id", "txn-" + t);
        p.put("acks", "all");
        p.put("enable.idempotence", "true");
        try (KafkaProducer<byte[], byte[]> pr = producer(p)) {
            pr.initTransactions();
            for (int i = 0; i < 3; i++) {
                List<Rec> batch = List.of(a, b, c).get(i);
                pr.beginTransaction();
                for (Rec r : batch) pr.send(new ProducerRecord<>(t, 0, r.key, r.value)).get();
                if (i == 1) pr.abortTransaction(); else pr.commitTransaction();
            }
        }
        Properties cp = new Properties();
        cp.put("isolation.level", "read_committed");
        try (KafkaConsumer<byte[], byte[]> con = consumer(cp)) {
            TopicPartition tp = new TopicPartition(t, 0);
            con.assign(List.of(tp));
            con.seekToBeginning(List.of(tp));
            List<Rec> want = new ArrayList<>(a); want.addAll(c);
            sameKV(read(con, 6), want);
        }
    }
}
