"""Tests of the policy pack: each validate function with passing and failing resources."""
