package dev.kvasir.models.template;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.el.TruthyTypeConverter;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.exptest.ExpTest;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.tokenizer.Tokenizer;
import jinjava.de.odysseus.el.ExpressionFactoryImpl;
import jinjava.de.odysseus.el.tree.TreeBuilder;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ExpressionFactory;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * A model's Jinja chat template, rendered with Jinjava the way Hugging Face's
 * {@code apply_chat_template} renders it with Jinja2: {@code trim_blocks} and {@code lstrip_blocks}
 * on, {@code messages}, {@code bos_token}, {@code eos_token} and {@code add_generation_prompt} bound,
 * {@code raise_exception} available, {@code tojson} writing Python's JSON, and Python's string methods ({@code .strip()},
 * {@code .startswith()}...) working on strings. Immutable; safe to share between threads.
 */
public final class ChatTemplate {

    /**
     * Jinjava's switches towards Jinja2: {@code {{-} trims, {@code "\\n"} in a string literal is a
     * newline, iterating a dict yields its keys. Not "natural operator precedence": with it Jinjava
     * reads {@code not x is defined} as {@code (not x) is defined}, which Llama 3.1's template relies on
     * being {@code not (x is defined)}.
     */
    private static final LegacyOverrides JINJA2_SEMANTICS = LegacyOverrides.newBuilder()
            .withUseTrimmingForNotesAndExpressions(true)
            .withParseWhitespaceControlStrictly(true)
            .withHandleBackslashInQuotesOnly(true)
            .withKeepNullableLoopValues(true)
            .withEvaluateMapKeys(true)
            .withIterateOverMapKeys(true)
            .withUsePyishObjectMapper(true)
            .build();

    private final String source;
    private final String bosToken;
    private final String eosToken;
    private final Jinjava jinjava;

    private ChatTemplate(String source, String bosToken, String eosToken) {
        // Jinja2 (keep_trailing_newline=False, as HF renders) drops one newline at the end of the source.
        this.source = source.endsWith("\r\n") ? source.substring(0, source.length() - 2)
                : source.endsWith("\n") ? source.substring(0, source.length() - 1) : source;
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PythonStringMethods());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                // Jinjava's option strips the output's last newline; Jinja2's drops the source's (see render).
                .withKeepTrailingNewline(true)
                .withElResolver(resolver)
                .withLegacyOverrides(JINJA2_SEMANTICS)
                .build();
        this.jinjava = new PythonExpressionsJinjava(config);
        jinjava.registerFunction(new ELFunctionDefinition("", "raise_exception", TemplateFunctions.class, "raiseException", String.class));
        jinjava.registerFilter(new PythonJsonFilter());
        jinjava.registerExpTest(new IterableTest());
    }

    /** A template from its Jinja source; {@code bosToken} and {@code eosToken} are the strings the template may emit. */
    public static ChatTemplate of(String source, String bosToken, String eosToken) {
        if (source == null || source.isBlank()) throw new IllegalArgumentException("empty chat template");
        return new ChatTemplate(source, bosToken, eosToken);
    }

    /** A built-in format, for models without a template. */
    public static ChatTemplate builtIn(BuiltInTemplates format, String bosToken, String eosToken) {
        return new ChatTemplate(format.source(), bosToken, eosToken);
    }

    /**
     * The model's own template ({@code tokenizer.chat_template} or {@code tokenizer_config.json}),
     * else the built-in format its vocabulary was made for. BOS and EOS strings come from the tokenizer.
     */
    public static ChatTemplate forModel(LoadedModel model, Tokenizer tokenizer) {
        String bos = tokenizer.bosId() >= 0 ? tokenizer.tokenString(tokenizer.bosId()) : "";
        int[] stops = tokenizer.stopTokenIds();
        String eos = stops.length > 0 ? tokenizer.tokenString(stops[0]) : "";
        String own = model.chatTemplate();
        if (own != null && !own.isBlank()) return of(own, bos, eos);
        return builtIn(BuiltInTemplates.fallbackFor(tokenizer), bos, eos);
    }

    /** The prompt text for {@code messages}; with {@code addGenerationPrompt}, ending where the assistant's answer starts. */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /**
     * As {@link #render(List, boolean)}, with extra template variables (e.g. Llama 3.1's
     * {@code date_string}, {@code tools}). Throws {@link ChatTemplateException} when the template
     * fails or rejects the conversation.
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, Object> extra) {
        Map<String, Object> bindings = new HashMap<>(extra);
        bindings.put("messages", messages.stream().map(ChatMessage::toTemplateValue).toList());
        bindings.put("bos_token", bosToken);
        bindings.put("eos_token", eosToken);
        bindings.put("add_generation_prompt", addGenerationPrompt);
        RenderResult result = jinjava.renderForResult(source, bindings);
        for (TemplateError error : result.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new ChatTemplateException("chat template failed: " + describe(error));
            }
        }
        return result.getOutput();
    }

    public String source() {
        return source;
    }

    /** Jinjava parsing expressions with {@link PythonSyntaxBuilder}; otherwise configured as Jinjava configures itself. */
    private static final class PythonExpressionsJinjava extends Jinjava {

        private final ExpressionFactory expressions;

        PythonExpressionsJinjava(JinjavaConfig config) {
            super(config);
            Properties properties = new Properties();
            properties.setProperty(TreeBuilder.class.getName(), PythonSyntaxBuilder.class.getName());
            properties.setProperty("jinjava.javax.el.cacheSize", "0");
            this.expressions = new ExpressionFactoryImpl(properties, new TruthyTypeConverter());
        }

        @Override
        public ExpressionFactory getExpressionFactory() {
            return expressions;
        }
    }

    /**
     * Jinja2's {@code is iterable}: anything Python can iterate, strings included (Jinjava's leaves
     * strings out). Llama 3.1's template writes a tool result that {@code is iterable} through
     * {@code tojson}, so a string result renders quoted, as it does under Hugging Face.
     */
    private static final class IterableTest implements ExpTest {
        @Override
        public String getName() {
            return "iterable";
        }

        @Override
        public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
            return var instanceof CharSequence || var instanceof Iterable<?> || var instanceof Map<?, ?>
                    || (var != null && var.getClass().isArray());
        }
    }

    /** The template's own message when it called raise_exception, else Jinjava's with the line. */
    private static String describe(TemplateError error) {
        for (Throwable t = error.getException(); t != null; t = t.getCause()) {
            if (t instanceof ChatTemplateException own) return own.getMessage();
        }
        return error.getMessage() + " (line " + error.getLineno() + ")";
    }
}
