"""The kubelet's streaming and HTTPS server: exec/attach/port-forward (WebSocket channels and SPDY/3.1), container
logs, the stats Summary API, and the TLS/client-certificate setup it is served with (see app.build_kubelet_app)."""
