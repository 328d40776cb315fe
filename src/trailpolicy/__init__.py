"""trailpolicy: least-privilege IAM policies from what AWS identities actually did."""

__version__ = "0.1.0"
