"""The domain of shipbot: flows, policy, the store. Imports nothing from Slack or the edge."""
