"""Leaf plumbing shared by every component: logging, clocks, process running."""
