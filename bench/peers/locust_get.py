"""The `get` workload for Locust: 50 users, GET / back to back (FastHttpUser, no wait)."""

from locust import FastHttpUser, constant, task


class Get(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/", name="get")
