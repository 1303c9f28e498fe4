"""The API server: the only component that touches the store; everything else talks to it over HTTPS."""
