"""The `crud` workload for Locust: create -> read -> update, the id taken from create's JSON."""

from locust import FastHttpUser, constant, task


class Crud(FastHttpUser):
    wait_time = constant(0)

    @task
    def crud(self):
        with self.client.post(
            "/users", json={"name": "alice"}, name="create", catch_response=True
        ) as created:
            if created.status_code != 201:
                created.failure(f"status {created.status_code}")
                return
            uid = created.json()["id"]
        self.client.get(f"/users/{uid}", name="read")
        self.client.put(f"/users/{uid}", json={"age": 41}, name="update")
