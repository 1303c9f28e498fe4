"""Cluster PKI: the CA, serving and client certificates, CSR signing, kubeconfig files and the
service-account signing key, laid out the way kubeadm lays them out (``<data-dir>/pki``).

Everything here is built on ``cryptography``; nothing here talks to the network or the API.
"""
