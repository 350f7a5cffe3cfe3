"""Offline execution of Step Functions (JSONata) state machine definitions for the tests."""
