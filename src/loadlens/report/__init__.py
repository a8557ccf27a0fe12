"""Reports of a RunResult: the terminal summary today; Markdown, HTML, JSON, JUnit later."""
