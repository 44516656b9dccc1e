package main

// kafkaVersion is the reference broker's version (kafka-ref.sh, kafka/pom.xml).
const kafkaVersion = "4.4.0"

// clientVersions: keep in step with go.mod, java/pom.xml's runs (setup.sh),
// python/requirements.txt, node/package.json and the Debian kcat package.
var clientVersions = map[string]string{
	"franz-go":               "1.22.3",
	"sarama":                 "1.61.1",
	"kafka-go":               "0.4.51",
	"confluent-kafka-go":     "2.11.1 (bundled librdkafka)",
	"java-4.4":               "kafka-clients 4.4.0",
	"java-3.9":               "kafka-clients 3.9.1",
	"java-2.8":               "kafka-clients 2.8.2",
	"kafka-cli":              "Apache Kafka 4.4.0 tools",
	"confluent-kafka-python": "2.16.1",
	"kcat":                   "1.7.1 (Debian, librdkafka 2.0.2)",
	"kafka-python":           "3.0.12",
	"kafkajs":                "2.2.4",
	"moldau-cli":             "this build (franz-go 1.22.3)",
}
