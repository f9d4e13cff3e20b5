package dev.kvasir.models.sampling.constraint;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code guided_grammar} in GBNF: outputs derive from the grammar (checked by an independent parser or regex). */
class GbnfConstraintTest {

    /** llama.cpp's grammars/json.gbnf, as that project ships it (recursive value / object / array). */
    static final String JSON_GBNF = """
            root   ::= object
            value  ::= object | array | string | number | ("true" | "false" | "null") ws

            object ::=
              "{" ws (
                        string ":" ws value
                ("," ws string ":" ws value)*
              )? "}" ws

            array  ::=
              "[" ws (
                        value
                ("," ws value)*
              )? "]" ws

            string ::=
              "\\"" (
                [^"\\\\\\x7F\\x00-\\x1F] |
                "\\\\" (["\\\\bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
              )* "\\"" ws

            number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws

            # Optional space: by convention, applied in this grammar after literal chars when allowed
            ws ::= | " " | "\\n" [ \\t]{0,20}
            """;

    @Test
    void llamaCppsJsonGrammarProducesJson() throws Exception {
        CompiledConstraint c = Fixtures.llama2Constraints().grammar(JSON_GBNF);
        ObjectMapper json = new ObjectMapper();
        for (int seed = 0; seed < 20; seed++) {
            Fixtures.Decoded d = Fixtures.decode(c, Fixtures.llama2(), seed, 1500, 3f);
            assertTrue(d.complete(), d.text());
            assertTrue(json.readTree(d.text()).isObject(), d.text());
        }
    }

    @Test
    void aRegularGrammarMatchesItsRegex() {
        String gbnf = """
                root ::= greeting " " name ("!" | "." | "") # end
                greeting ::= "Hello" | "Hi" | "Dear"
                name ::= [A-Z] [a-z]{1,8} (
                  "-" [A-Z] [a-z]+
                )?
                """;
        Pattern p = Pattern.compile("(Hello|Hi|Dear) [A-Z][a-z]{1,8}(-[A-Z][a-z]+)?[!.]?");
        CompiledConstraint c = Fixtures.llama2Constraints().grammar(gbnf);
        for (int seed = 0; seed < 30; seed++) {
            Fixtures.Decoded d = Fixtures.decode(c, Fixtures.llama2(), seed, 200, 2f);
            assertTrue(d.complete() && p.matcher(d.text()).matches(), "'" + d.text() + "'");
        }
    }

    @Test
    void balancedParenthesesNeedTheStack() {
        String gbnf = "root ::= \"(\" inner \")\"\ninner ::= (\"(\" inner \")\" | [a-z])*\n";
        CompiledConstraint c = Fixtures.llama2Constraints().grammar(gbnf);
        assertTrue(Fixtures.accepts(c, "(a(b)(c(d)))"));
        assertTrue(!Fixtures.accepts(c, "(a(b)"));
        assertTrue(!Fixtures.accepts(c, "(a))"));
        for (int seed = 0; seed < 20; seed++) {
            Fixtures.Decoded d = Fixtures.decode(c, Fixtures.llama2(), seed, 400, 2f);
            if (!d.complete()) continue;
            int depth = 0;
            for (char ch : d.text().toCharArray()) {
                depth += ch == '(' ? 1 : ch == ')' ? -1 : 0;
                assertTrue(depth >= 0, d.text());
            }
            assertTrue(depth == 0, d.text());
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = '~', value = {
            "root ::= expr\\nexpr ::= expr \"+\" \"1\" | \"1\"~left recursion",
            "root ::= <[1234]>~token references",
            "root ::= !\"a\"~negation",
            "start ::= \"a\"~no 'root' rule",
            "root ::= missing~undefined rule 'missing'",
            "root ::= \"unterminated~unterminated string",
            "root ::= [z-a]~out of order",
            "root = \"a\"~expected ::=",
            "root ::= \"a\" nothing\\nnothing ::= \"b\" nothing~matches no output"})
    void malformedOrUnsupportedGrammarsAreRefused(String gbnf, String named) {
        ConstraintException e = assertThrows(ConstraintException.class,
                () -> Fixtures.llama2Constraints().grammar(gbnf.replace("\\n", "\n")));
        assertTrue(e.getMessage().contains(named), e.getMessage());
    }
}
