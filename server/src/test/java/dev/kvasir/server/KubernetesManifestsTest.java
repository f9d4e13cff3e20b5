package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code kubectl kustomize deploy/kubernetes} renders cleanly, and what it renders holds together:
 * each model's Deployment asks for as many GPUs as its --tensor-parallel-size, probes /health for
 * readiness but not for liveness (a draining pod answers 503), gives the drain its time, reads the
 * API keys and the PostgreSQL DSN from Secrets, and is reached by a Service, the Ingress and the
 * PodMonitor through labels and a port that exist.
 */
class KubernetesManifestsTest {

    private static final YAMLMapper YAML = new YAMLMapper();
    private static List<JsonNode> objects;

    @BeforeAll
    static void render() throws Exception {
        Path kubectl = Stream.concat(Stream.of(System.getenv().getOrDefault("PATH", "").split(":")).filter(p -> !p.isEmpty())
                        .map(p -> Path.of(p, "kubectl")), Stream.of(Path.of("/usr/bin/kubectl")))
                .filter(Files::isExecutable).findFirst().orElse(null);
        assumeTrue(kubectl != null, "no kubectl on this machine (apt-get install kubernetes-client; .ci/run and scripts/test"
                + " install it): the kustomize render test needs it");
        Process p = new ProcessBuilder(kubectl.toString(), "kustomize", RepositoryFiles.resolve("deploy/kubernetes").toString()).start();
        byte[] err = p.getErrorStream().readAllBytes();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "kubectl kustomize did not finish in 60 s");
        String stderr = new String(err, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), "kubectl kustomize deploy/kubernetes failed:\n" + stderr);
        assertEquals("", stderr.strip(), "kubectl kustomize deploy/kubernetes warned");
        objects = new ArrayList<>();
        try (var docs = YAML.readerFor(JsonNode.class).<JsonNode>readValues(out)) {
            while (docs.hasNext()) objects.add(docs.next());
        }
    }

    private static List<JsonNode> ofKind(String kind) {
        return objects.stream().filter(o -> o.path("kind").asText().equals(kind)).toList();
    }

    @Test
    void rendersTheObjectsOfAModelDeployment() {
        Map<String, Integer> kinds = new HashMap<>();
        for (JsonNode o : objects) kinds.merge(o.path("kind").asText(), 1, Integer::sum);
        assertEquals(Map.of("Namespace", 1, "PersistentVolumeClaim", 1, "Service", 3, "Deployment", 2, "PodMonitor", 1, "Ingress", 1),
                kinds);
        for (JsonNode o : objects) {
            if (!o.path("kind").asText().equals("Namespace")) {
                assertEquals("kvasir", o.at("/metadata/namespace").asText(), o.at("/metadata/name") + " is in namespace kvasir");
            }
        }
        JsonNode postgres = objects.stream().filter(o -> o.at("/metadata/name").asText().equals("postgres")).findFirst().orElseThrow();
        assertEquals("ExternalName", postgres.at("/spec/type").asText(), "PostgreSQL is an external service");
    }

    @Test
    void eachDeploymentAsksForTheGpusOfItsSplitAndDrainsGracefully() {
        for (JsonNode d : ofKind("Deployment")) {
            String name = d.at("/metadata/name").asText();
            JsonNode pod = d.at("/spec/template/spec");
            JsonNode c = pod.at("/containers/0");
            Map<String, String> args = args(c);
            int tp = Integer.parseInt(args.get("--tensor-parallel-size"));
            assertEquals(tp, c.at("/resources/limits/nvidia.com~1gpu").asInt(), name + ": one GPU per tensor-parallel rank");
            assertEquals("cuda", args.get("--device"), name);
            assertEquals("0.0.0.0", args.get("--host"), name + " listens beyond the pod's loopback");
            assertEquals("registry.example.com/kvasir:0.1.0", c.path("image").asText(), name + ": the image kustomize names");

            assertEquals("/health", c.at("/readinessProbe/httpGet/path").asText(), name + ": ready is /health");
            assertEquals("/health", c.at("/startupProbe/httpGet/path").asText(), name + ": loading is waited for on /health");
            assertFalse(c.path("livenessProbe").isMissingNode(), name + " has a liveness probe");
            assertFalse(c.at("/livenessProbe/httpGet/path").asText().equals("/health"),
                    name + ": liveness must not be /health, which answers 503 while draining");

            double shutdown = Double.parseDouble(args.get("--shutdown-timeout"));
            JsonNode preStop = c.at("/lifecycle/preStop/exec/command");
            int preStopSeconds = preStop.isArray() && preStop.get(0).asText().equals("sleep") ? preStop.get(1).asInt() : 0;
            assertTrue(pod.path("terminationGracePeriodSeconds").asInt() > preStopSeconds + shutdown,
                    name + ": the grace period outlasts preStop (" + preStopSeconds + " s) and the drain (" + shutdown + " s)");

            // The keys file lies in a volume of the kvasir-api-keys Secret.
            String keyFile = args.get("--api-key-file");
            assertNotNull(keyFile, name + " reads its API keys from a file");
            JsonNode keysMount = mountHolding(c, keyFile);
            assertNotNull(keysMount, name + ": " + keyFile + " is under a volume mount");
            assertEquals("kvasir-api-keys", volume(pod, keysMount.path("name").asText()).at("/secret/secretName").asText(), name);

            assertEquals("$(KVASIR_MEMORY_STORE)", args.get("--memory-store"), name);
            JsonNode env = stream(c.path("env")).filter(e -> e.path("name").asText().equals("KVASIR_MEMORY_STORE")).findFirst().orElseThrow();
            assertEquals("kvasir-postgres", env.at("/valueFrom/secretKeyRef/name").asText(), name + ": the DSN comes from a Secret");

            String model = args.get("--model");
            JsonNode modelMount = mountHolding(c, model);
            assertNotNull(modelMount, name + ": " + model + " is under a volume mount");
            assertTrue(modelMount.path("readOnly").asBoolean(), name + ": models are mounted read-only");
        }
    }

    @Test
    void servicesIngressAndPodMonitorReachThePods() {
        List<JsonNode> deployments = ofKind("Deployment");
        Map<String, JsonNode> services = new HashMap<>();
        for (JsonNode s : ofKind("Service")) services.put(s.at("/metadata/name").asText(), s);
        for (JsonNode d : deployments) {
            JsonNode labels = d.at("/spec/template/metadata/labels");
            assertTrue(matches(d.at("/spec/selector/matchLabels"), labels), "the selector of " + d.at("/metadata/name") + " matches its pods");
            JsonNode service = services.get(d.at("/metadata/name").asText());
            assertNotNull(service, "a Service for " + d.at("/metadata/name"));
            assertTrue(matches(service.at("/spec/selector"), labels), "the Service selects " + d.at("/metadata/name") + "'s pods");
            assertEquals("http", service.at("/spec/ports/0/targetPort").asText());
            assertEquals("http", d.at("/spec/template/spec/containers/0/ports/0/name").asText());
        }
        JsonNode monitor = ofKind("PodMonitor").get(0);
        for (JsonNode d : deployments) {
            assertTrue(matches(monitor.at("/spec/selector/matchLabels"), d.at("/spec/template/metadata/labels")),
                    "the PodMonitor scrapes " + d.at("/metadata/name"));
        }
        JsonNode endpoint = monitor.at("/spec/podMetricsEndpoints/0");
        assertEquals("/metrics", endpoint.path("path").asText());
        assertEquals("http", endpoint.path("port").asText());
        assertEquals("kvasir-metrics-key", endpoint.at("/authorization/credentials/name").asText(), "/metrics needs a key");
        JsonNode ingress = ofKind("Ingress").get(0);
        assertEquals("$http_x_kvasir_user", ingress.at("/metadata/annotations/nginx.ingress.kubernetes.io~1upstream-hash-by").asText(),
                "the ingress hashes on the user, as deploy/nginx/kvasir.conf does");
        for (JsonNode rule : ingress.at("/spec/rules")) {
            String backend = rule.at("/http/paths/0/backend/service/name").asText();
            assertTrue(services.containsKey(backend), "the ingress routes " + rule.path("host") + " to an existing Service: " + backend);
        }
    }

    /** {@code --flag=value} arguments of a container. */
    private static Map<String, String> args(JsonNode container) {
        Map<String, String> args = new HashMap<>();
        for (JsonNode a : container.path("args")) {
            String s = a.asText();
            int eq = s.indexOf('=');
            assertTrue(s.startsWith("--") && eq > 0, "container args are --flag=value: " + s);
            args.put(s.substring(0, eq), s.substring(eq + 1));
        }
        return args;
    }

    private static JsonNode mountHolding(JsonNode container, String file) {
        return stream(container.path("volumeMounts")).filter(m -> file.startsWith(m.path("mountPath").asText() + "/")).findFirst().orElse(null);
    }

    private static JsonNode volume(JsonNode pod, String name) {
        return stream(pod.path("volumes")).filter(v -> v.path("name").asText().equals(name)).findFirst().orElseThrow();
    }

    private static boolean matches(JsonNode selector, JsonNode labels) {
        if (selector.isMissingNode() || selector.isEmpty()) return false;
        for (var e : selector.properties()) {
            if (!labels.path(e.getKey()).asText().equals(e.getValue().asText())) return false;
        }
        return true;
    }

    private static Stream<JsonNode> stream(JsonNode array) {
        List<JsonNode> list = new ArrayList<>();
        array.forEach(list::add);
        return list.stream();
    }
}
