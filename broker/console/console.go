// Package console serves Moldau's web console on --console-addr: the UI
// (ui/, built with esbuild into ui/dist and embedded) and its JSON API
// (API.md), as a Kafka client of the broker it runs in
// (broker/webclient).
package console
