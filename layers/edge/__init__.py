"""The edge: CloudFront, its guards in us-east-1 (web ACL, viewer-request function) and the domain."""
