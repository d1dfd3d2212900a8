"""Test services started by fixtures: a real S3 server (OpenStack Swift s3api) on loopback."""
