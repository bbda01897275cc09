"""Scheduling: when jobs fire (pure cron maths lives in `cron`)."""
