"""The CI roles: what GitHub's workflows may assume in each environment."""
