package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Several hundred malformed and hostile bodies: each gets a 4xx with OpenAI's error JSON, never a
 * 500; afterwards the engine is alive, no block is held, and a normal request is served.
 */
class HostileBodiesTest {

    @RegisterExtension
    static final RunningServer server = new RunningServer(TestServers.config());
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String VALID = "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello there\"}],"
            + "\"max_tokens\":4,\"temperature\":0.5,\"stop\":[\"x\"],\"n\":1}";

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }

    static List<byte[]> hostileBodies() {
        List<byte[]> bodies = new ArrayList<>();
        // Every truncation of a valid body.
        for (int i = 0; i < VALID.length(); i++) bodies.add(utf8(VALID.substring(0, i)));
        // Out-of-range and absurd numbers.
        String[] numbers = {"1e999", "-1e999", "1e30", "99999999999999999999999999", "-1", "0", "1.5", "NaN", "Infinity",
                "1" + "0".repeat(5000), "0." + "0".repeat(5000) + "1", "-0", "2.0000001", "1e-400"};
        for (String field : List.of("temperature", "top_p", "max_tokens", "max_completion_tokens", "n", "seed", "top_k",
                "min_p", "top_logprobs", "presence_penalty", "frequency_penalty", "repetition_penalty")) {
            for (String n : numbers) bodies.add(utf8(VALID.replace("\"n\":1", "\"" + field + "\":" + n + ",\"logprobs\":true")));
        }
        // Wrong types.
        for (String bad : List.of("\"messages\":\"hi\"", "\"messages\":[]", "\"messages\":[1]", "\"messages\":[{\"role\":\"user\"}]",
                "\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]", "\"messages\":[{\"role\":\"user\",\"content\":5}]",
                "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]",
                "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":7}]}]",
                "\"messages\":{\"role\":\"user\"}", "\"messages\":null")) {
            bodies.add(utf8(VALID.replaceFirst("\"messages\":\\[.*?\\]\\}\\]|\"messages\":\\[\\{.*?\\}\\]", bad)));
        }
        for (String bad : List.of("\"stream\":\"yes\"", "\"stop\":[1,2]", "\"stop\":\"\"", "\"stop\":{}", "\"n\":\"2\"",
                "\"logprobs\":1", "\"model\":7", "\"model\":\"gpt-4o\"", "\"stream_options\":{\"include_usage\":true}",
                "\"top_logprobs\":5", "\"user\":[]", "\"stop\":[" + "\"a\",".repeat(40) + "\"a\"]", "\"n\":1,\"n\":2")) {
            bodies.add(utf8(VALID.replace("\"n\":1", bad)));
        }
        // Deeply nested arrays and objects, in the body and inside fields.
        bodies.add(utf8("[".repeat(100_000)));
        bodies.add(utf8("[".repeat(50_000) + "]".repeat(50_000)));
        bodies.add(utf8(VALID.replace("\"n\":1", "\"n\":" + "[".repeat(10_000) + "]".repeat(10_000))));
        bodies.add(utf8("{\"a\":".repeat(20_000) + "1" + "}".repeat(20_000)));
        bodies.add(utf8(VALID.replace("\"Hello there\"", "[" + "[".repeat(200) + "]".repeat(200) + "]")));
        // Invalid UTF-8 inside and outside strings.
        byte[][] invalid = {{(byte) 0xff}, {(byte) 0xc0, (byte) 0x80}, {(byte) 0xed, (byte) 0xa0, (byte) 0x80},
                {(byte) 0xf8, (byte) 0x88, (byte) 0x80, (byte) 0x80, (byte) 0x80}, {(byte) 0xe2, (byte) 0x82}, {(byte) 0x80}};
        for (byte[] inv : invalid) {
            int at = VALID.indexOf("Hello");
            bodies.add(concat(utf8(VALID.substring(0, at)), inv, utf8(VALID.substring(at))));
            bodies.add(concat(inv, utf8(VALID)));
            bodies.add(concat(utf8("{\"model\":\""), inv, utf8("\",\"messages\":[]}")));
        }
        // Lone surrogates through escapes: valid JSON, odd text.
        bodies.add(utf8(VALID.replace("Hello there", "\\ud800\\udc00\\udfff\\ud83d")));
        // Not JSON objects at all.
        for (String s : List.of("", "null", "[]", "{}", "42", "\"str\"", "true", "{\"messages\":[{}]}", "{} {}", "{\"a\":1}garbage",
                "{'single':'quotes'}", "{\"a\":1,}", "<xml/>", "\u0000\u0000")) {
            bodies.add(utf8(s));
        }
        // Huge strings: over the body limit (413), and large ones in fields that do not reach the tokenizer.
        bodies.add(utf8("{\"model\":\"" + "m".repeat(10 << 20) + "\"}"));
        bodies.add(utf8(VALID.replace("\"n\":1", "\"model\":\"" + "m".repeat(1 << 20) + "\"")));
        bodies.add(utf8(VALID.replace("\"n\":1", "\"stop\":\"" + "s".repeat(1 << 20) + "\",\"n\":0")));
        // Random bytes.
        Random random = new Random(42);
        for (int i = 0; i < 60; i++) {
            byte[] b = new byte[1 + random.nextInt(300)];
            random.nextBytes(b);
            bodies.add(b);
        }
        return bodies;
    }

    @Test
    void hostileBodiesNeverYield500AndLeaveTheEngineClean() throws Exception {
        List<byte[]> bodies = hostileBodies();
        assertTrue(bodies.size() >= 300, "bodies: " + bodies.size());
        String[] paths = {"/v1/chat/completions", "/v1/completions", "/tokenize", "/detokenize"};
        int served = 0;
        for (int i = 0; i < bodies.size(); i++) {
            String path = paths[i % paths.length];
            TestServers.Raw r = TestServers.post(server.port(), path, bodies.get(i));
            assertTrue(r.status() >= 200 && r.status() < 500, "body #" + i + " to " + path + " got " + r.status() + ": " + r.body());
            if (r.status() >= 400) {
                JsonNode error = JSON.readTree(r.body()).get("error");
                assertTrue(error != null && error.get("message").isTextual() && error.has("type")
                        && error.has("param") && error.has("code"), "error shape: " + r.body());
            } else {
                served++;
            }
        }
        assertTrue(served < bodies.size() / 4, "most hostile bodies are refused, " + served + " served");
        assertTrue(server.engine().alive());
        assertEquals(0, TestServers.usedBlocksWhenIdle(server.get()));
        TestServers.Raw ok = TestServers.post(server.port(), "/v1/chat/completions", utf8(VALID));
        assertEquals(200, ok.status(), ok.body());
        assertEquals("chat.completion", JSON.readTree(ok.body()).get("object").asText());
    }

    @Test
    void statusCodesForRoutesMethodsAndLimits() throws Exception {
        assertEquals(404, TestServers.get(server.port(), "/v2/nothing").status());
        TestServers.Raw wrongMethod = TestServers.get(server.port(), "/v1/chat/completions");
        assertEquals(405, wrongMethod.status());
        assertTrue(wrongMethod.headers().toLowerCase().contains("allow: post"), wrongMethod.headers());
        assertEquals(413, TestServers.post(server.port(), "/v1/completions", new byte[9 << 20]).status());
        assertEquals(200, TestServers.get(server.port(), "/health").status());
        TestServers.Raw garbage = TestServers.raw(server.port(), utf8("BLAH\r\n\r\n"));
        assertTrue(garbage.status() == 400 || garbage.status() == -1, "status " + garbage.status());
    }
}
