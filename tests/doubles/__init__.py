"""Test doubles and fixtures shared by the test packages; tests/conftest.py registers the
fixtures for every test."""
