"""Deploy backends: the systems a deploy really runs on (rule 5: ports, not globals)."""
