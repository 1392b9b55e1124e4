"""Test harness for Tern's multi-process tests: free ports, managed processes, and peers.

Every process a test starts writes its output to a log file in the test's own temporary
directory; the fixtures stop it afterwards and print the log's tail when the test failed.
"""
