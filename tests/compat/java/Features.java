// Features: the features scenario for kafka-clients 3.3+ (compiled against
// 4.x and 3.9 by setup.sh; Driver reaches it by reflection).
//
// describeFeatures must list Apache Kafka 4.4's finalized features at
// least at the levels clients of the 4.x line rely on (group.version 1,
// transaction.version 2, share.version 1, streams.version 1) with an
// epoch; updateFeatures (validate only) upgrading group.version to its
// finalized level succeeds; describeMetadataQuorum names a leader among
// the voters.
import java.util.*;

import org.apache.kafka.clients.admin.*;

public class Features {
    static final Map<String, Integer> WANT = new TreeMap<>(Map.of(
        "group.version", 1, "transaction.version", 2, "share.version", 1, "streams.version", 1));

    public static void features() throws Exception {
        try (Admin a = Driver.admin()) {
            FeatureMetadata fm = a.describeFeatures().featureMetadata().get();
            Map<String, FinalizedVersionRange> fin = fm.finalizedFeatures();
            for (var w : WANT.entrySet()) {
                FinalizedVersionRange r = fin.get(w.getKey());
                Driver.check(r != null && r.maxVersionLevel() >= w.getValue(),
                    "finalized " + w.getKey() + " = " + (r == null ? "absent" : r.maxVersionLevel()) + ", want >= " + w.getValue() + " (finalized: " + fin.keySet() + ")");
            }
            Driver.check(fm.finalizedFeaturesEpoch().isPresent(), "no finalized features epoch");
            short group = fin.get("group.version").maxVersionLevel();
            a.updateFeatures(Map.of("group.version", new FeatureUpdate(group, FeatureUpdate.UpgradeType.UPGRADE)),
                new UpdateFeaturesOptions().validateOnly(true)).all().get();
            QuorumInfo q = a.describeMetadataQuorum().quorumInfo().get();
            Driver.check(q.leaderId() >= 0, "metadata quorum has no leader: " + q);
            Driver.check(q.voters().stream().anyMatch(v -> v.replicaId() == q.leaderId()), "quorum leader " + q.leaderId() + " is not among the voters " + q.voters());
        }
    }
}
