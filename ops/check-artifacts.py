"""The checks of the shipped artifacts that no single tool makes (ops/check-artifacts.sh runs them).

  check-artifacts.py manifests           the Kubernetes manifests agree with each other, with the
                                          Dockerfile, the systemd unit and docs/configuration.md
  check-artifacts.py dashboard-rules OUT  writes the Grafana dashboard's queries as recording rules
                                          to OUT, for `promtool check rules` to parse them
"""
import json
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def documented_variables():
    """PAIRGATE_* of every key in docs/configuration.md's table (`database.pool_size` → PAIRGATE_DATABASE_POOL_SIZE)."""
    keys = re.findall(r"^\| `([a-z_.]+)` \|", (ROOT / "docs/configuration.md").read_text(), re.MULTILINE)
    return {"PAIRGATE_" + key.upper().replace(".", "_") for key in keys} | {"PAIRGATE_CONFIG"}


def manifests():
    documents = {}
    for path in sorted((ROOT / "ops/k8s").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            documents[(document["kind"], document["metadata"]["name"])] = document
    deployment = documents[("Deployment", "pairgate")]
    job = documents[("Job", "pairgate-migrate")]
    service = documents[("Service", "pairgate")]
    budget = documents[("PodDisruptionBudget", "pairgate")]
    config_map = documents[("ConfigMap", "pairgate")]
    secret = documents[("Secret", "pairgate-secrets")]

    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    job_labels = job["spec"]["template"]["metadata"]["labels"]

    def selects(selector, labels):
        return all(labels.get(key) == value for key, value in selector.items())

    check(selects(deployment["spec"]["selector"]["matchLabels"], pod_labels), "the Deployment's selector does not match its pods")
    for name, selector in [("Service", service["spec"]["selector"]), ("PodDisruptionBudget", budget["spec"]["selector"]["matchLabels"])]:
        check(selects(selector, pod_labels), f"the {name} does not select the gateway pods")
        check(not selects(selector, job_labels), f"the {name} also selects the migration Job's pod")

    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    check(container["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness must probe /readyz")
    check(container["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness must probe /healthz")
    for probe in ("readinessProbe", "livenessProbe"):
        check(container[probe]["httpGet"]["port"] in ports, f"{probe} names a port the container does not have")
    check(service["spec"]["ports"][0]["targetPort"] in ports, "the Service targets a port the container does not have")
    check(job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"], "the Job must run `pairgate migrate`")
    check(job["spec"]["template"]["spec"]["containers"][0]["image"] == container["image"], "the Job and the Deployment must run the same image")

    # One port everywhere: the container's, the image's EXPOSE and PAIRGATE_HTTP_PORT, the health check's.
    dockerfile = (ROOT / "Dockerfile").read_text()
    exposed = re.search(r"^EXPOSE (\d+)$", dockerfile, re.MULTILINE)
    image_port = re.search(r"PAIRGATE_HTTP_PORT=(\d+)", dockerfile)
    check(exposed and image_port and exposed.group(1) == image_port.group(1) and int(exposed.group(1)) == ports.get("http"),
          "the Dockerfile's EXPOSE, its PAIRGATE_HTTP_PORT and the container's http port differ")
    check("ENTRYPOINT [\"/usr/local/bin/pairgate\"]" in dockerfile, "the image's entry point is not /usr/local/bin/pairgate")

    # The stop budget: the preStop sleep plus the graceful stop systemd allows must fit the grace period.
    unit = (ROOT / "ops/systemd/pairgate.service").read_text()
    stop = int(re.search(r"^TimeoutStopSec=(\d+)$", unit, re.MULTILINE).group(1))
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    pre_stop = int(command[1]) if command[0] == "sleep" else 0
    check(pod["terminationGracePeriodSeconds"] >= pre_stop + stop,
          f"terminationGracePeriodSeconds {pod['terminationGracePeriodSeconds']} < preStop {pre_stop} s + graceful stop {stop} s")

    # Every reference resolves, and every variable is a documented setting.
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            check(("ConfigMap", source["configMapRef"]["name"]) in documents, f"no ConfigMap {source['configMapRef']['name']}")
        if "secretRef" in source:
            check(("Secret", source["secretRef"]["name"]) in documents, f"no Secret {source['secretRef']['name']}")
    variables = set(config_map["data"]) | set(secret["stringData"])
    for spec in (pod, job["spec"]["template"]["spec"]):
        for variable in spec["containers"][0].get("env", []):
            variables.add(variable["name"])
            reference = variable.get("valueFrom", {}).get("secretKeyRef")
            if reference:
                referenced = documents.get(("Secret", reference["name"]))
                check(referenced is not None and reference["key"] in referenced["stringData"],
                      f"{variable['name']} refers to a missing secret key {reference['name']}/{reference['key']}")
    variables |= set(re.findall(r"\b(PAIRGATE_[A-Z_]+)=", dockerfile))
    variables |= set(re.findall(r"\b(PAIRGATE_[A-Z_]+)\b", unit))
    known = documented_variables()
    for variable in sorted(variables):
        check(variable in known, f"{variable} is not a setting of docs/configuration.md")
    check(all(value.startswith("REPLACE-ME") for value in secret["stringData"].values()),
          "secret.example.yaml must hold placeholders only")


def dashboard_rules(out):
    dashboard = json.loads((ROOT / "ops/grafana/pairgate.json").read_text())
    expressions = []

    def walk(value):
        if isinstance(value, dict):
            if isinstance(value.get("expr"), str):
                expressions.append(value["expr"])
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    walk(dashboard["panels"])
    check(expressions, "the dashboard has no queries")
    # Grafana's variables, as Grafana substitutes them, so that promtool parses plain PromQL.
    rules = [{"record": f"dashboard:query_{index}",
              "expr": expression.replace("$__rate_interval", "5m").replace("$instance", ".*")}
             for index, expression in enumerate(expressions)]
    pathlib.Path(out).write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, sort_keys=False))
    print(f"{len(rules)} dashboard queries")


if __name__ == "__main__":
    if sys.argv[1:2] == ["manifests"]:
        manifests()
    elif sys.argv[1:2] == ["dashboard-rules"] and len(sys.argv) == 3:
        dashboard_rules(sys.argv[2])
    else:
        sys.exit(__doc__)
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    sys.exit(1 if failures else 0)
