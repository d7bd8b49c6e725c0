"""The deploy flow: policy, requests and approvals, locks, and running deploys."""
