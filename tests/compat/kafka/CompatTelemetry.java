// CompatTelemetry: a client-telemetry plugin for the reference broker
// (kafka-ref.sh sets metric.reporters=CompatTelemetry). Apache Kafka
// advertises GetTelemetrySubscriptions and PushTelemetry (KIP-714) only when
// a metrics reporter implements ClientTelemetryExporterProvider; this one
// logs one line per push to the broker's log and keeps nothing.
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.metrics.KafkaMetric;
import org.apache.kafka.common.metrics.MetricsReporter;
import org.apache.kafka.server.telemetry.ClientTelemetryContext;
import org.apache.kafka.server.telemetry.ClientTelemetryExporter;
import org.apache.kafka.server.telemetry.ClientTelemetryExporterProvider;
import org.apache.kafka.server.telemetry.ClientTelemetryPayload;

public class CompatTelemetry implements MetricsReporter, ClientTelemetryExporterProvider {
    @Override public void configure(Map<String, ?> configs) {}
    @Override public void init(List<KafkaMetric> metrics) {}
    @Override public void metricChange(KafkaMetric metric) {}
    @Override public void metricRemoval(KafkaMetric metric) {}
    @Override public void close() {}

    @Override
    public ClientTelemetryExporter clientTelemetryExporter() {
        return (ClientTelemetryContext ctx, ClientTelemetryPayload p) ->
            System.err.println("compat-telemetry: push from client instance " + p.clientInstanceId() + ": "
                + p.data().remaining() + " bytes " + p.contentType() + (p.isTerminating() ? " (terminating)" : ""));
    }
}
