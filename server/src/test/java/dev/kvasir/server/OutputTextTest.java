package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kvasir.kernels.GgmlType;
import dev.kvasir.models.loader.RandomModelMaker;
import dev.kvasir.server.cli.KvasirCli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The text a client gets is the text of the tokens it was generated from: for both tokenizer kinds
 * (SentencePiece on stories260K, byte-level BPE on a tiny random model), over many prompts, the
 * completion text equals {@code kvasir generate}'s, equals the streamed chunks joined, and equals
 * the returned tokens joined (their bytes, where a token holds part of a character). The first
 * token keeps its leading space: "Once upon a" continues " time", not "time".
 */
class OutputTextTest {

    private static final List<String> PROMPTS = List.of("Once upon a", "Once upon a time", "The cat sat", "Lily",
            "She said, \"", "Tom and Sue went to the", "A big red", "One day,", "Hello there, my", "x");

    @TempDir
    static Path dir;

    @Test
    void sentencePieceTextMatchesItsTokensAndGenerate() throws Exception {
        check(TestServers.model(), true);
    }

    @Test
    void byteLevelBpeTextMatchesItsTokensAndGenerate() throws Exception {
        Path model = dir.resolve("tiny-bpe.gguf");
        RandomModelMaker.make(RandomModelMaker.SHAPES.get("tiny-bpe"), GgmlType.F32, 7, model);
        check(model, false);
    }

    private static void check(Path model, boolean sentencePiece) throws Exception {
        try (KvasirServer server = TestServers.start(TestServers.config(model))) {
            for (String prompt : PROMPTS) {
                String body = "{\"prompt\":" + Http.quote(prompt) + ",\"max_tokens\":12,\"temperature\":0,\"logprobs\":0}";
                JsonNode plain = Http.json(Http.post(server, "/v1/completions", body).body());
                JsonNode choice = plain.get("choices").get(0);
                String text = choice.get("text").asText();
                assertEquals(generate(model, prompt, 12), text, "API text = generate text for " + prompt);
                assertEquals(text, streamedText(server, "/v1/completions", body), "streamed = whole for " + prompt);
                StringBuilder joined = new StringBuilder();
                for (JsonNode t : choice.get("logprobs").get("tokens")) joined.append(t.asText());
                if (!joined.toString().contains("\uFFFD")) {
                    assertEquals(joined.toString(), text, "text = its tokens joined for " + prompt);
                }
                if (sentencePiece && prompt.equals("Once upon a")) {
                    assertEquals(" time", text.substring(0, 5), "the first token keeps its leading space");
                }

                // Chat: the content's bytes are exactly the returned tokens' bytes, streamed or not.
                String chat = "{\"messages\":[{\"role\":\"user\",\"content\":" + Http.quote(prompt) + "}],"
                        + "\"max_tokens\":12,\"temperature\":0,\"logprobs\":true}";
                JsonNode message = Http.json(Http.post(server, "/v1/chat/completions", chat).body()).get("choices").get(0);
                String content = message.get("message").get("content").asText();
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                for (JsonNode t : message.get("logprobs").get("content")) {
                    for (JsonNode b : t.get("bytes")) bytes.write(b.asInt());
                }
                assertEquals(new String(bytes.toByteArray(), StandardCharsets.UTF_8), content, "chat content = token bytes for " + prompt);
                assertEquals(content, streamedText(server, "/v1/chat/completions", chat), "chat streamed = whole for " + prompt);
            }
        }
    }

    /** The text of a streamed request: every chunk's text or delta content, in order. */
    private static String streamedText(KvasirServer server, String path, String body) {
        String streamBody = body.substring(0, body.length() - 1) + ",\"stream\":true}";
        StringBuilder text = new StringBuilder();
        for (String event : Http.events(Http.post(server, path, streamBody).body())) {
            if (event.equals("[DONE]")) break;
            JsonNode c = Http.json(event).get("choices").get(0);
            if (c.has("text")) text.append(c.get("text").asText());
            else if (c.get("delta").has("content")) text.append(c.get("delta").get("content").asText());
        }
        return text.toString();
    }

    /** {@code kvasir generate}'s stdout for a greedy continuation, without its final newline. */
    private static String generate(Path model, String prompt, int maxTokens) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        PrintStream oldOut = System.out, oldErr = System.err;
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = new CommandLine(new KvasirCli()).execute("generate", "--model", model.toString(), "--prompt", prompt,
                    "--max-tokens", String.valueOf(maxTokens), "--temperature", "0", "--threads", "2");
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        assertEquals(0, code, err::toString);
        String s = out.toString(StandardCharsets.UTF_8);
        assertTrue(s.endsWith("\n"), s);
        return s.substring(0, s.length() - 1);
    }
}
