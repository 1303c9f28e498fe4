"""root-ca-cert-publisher: keeps a ConfigMap "kube-root-ca.crt" with the cluster CA in every namespace."""

from pyk8s.controllers.framework import ControllerDescriptor
from pyk8s.controllers.rootcacertpublisher.controller import ROOT_CA_OPTION, RootCACertPublisher
from pyk8s.controllers.rootcacertpublisher.rootca import RootCAError, read_root_ca

DESCRIPTOR = ControllerDescriptor("root-ca-cert-publisher", RootCACertPublisher,
                                  aliases=("root-ca-certificate-publisher-controller",))

__all__ = ["DESCRIPTOR", "ROOT_CA_OPTION", "RootCACertPublisher", "RootCAError", "read_root_ca"]
