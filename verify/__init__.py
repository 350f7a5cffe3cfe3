"""Post-deploy verification: checks a deployed environment through the AWS APIs."""
