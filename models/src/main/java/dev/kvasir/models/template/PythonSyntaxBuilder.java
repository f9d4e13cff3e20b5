package dev.kvasir.models.template;

import com.hubspot.jinjava.el.ExtendedSyntaxBuilder;
import com.hubspot.jinjava.el.ext.ExtendedParser;
import jinjava.de.odysseus.el.tree.impl.Parser;
import jinjava.de.odysseus.el.tree.impl.Scanner;
import jinjava.de.odysseus.el.tree.impl.ast.AstBinary;
import jinjava.de.odysseus.el.tree.impl.ast.AstNode;
import jinjava.de.odysseus.el.tree.impl.ast.AstUnary;

/**
 * Jinjava's expression syntax with {@code not} where Python puts it: below comparisons and tests,
 * above {@code and}. Jinjava binds {@code not} to the operand next to it, so Llama 3.1's
 * {@code not message.tool_calls|length == 1} became {@code (not length) == 1} (a type error) and
 * {@code not x is defined} only works by accident of its other switch. Here both read as Jinja2
 * reads them: {@code not (length == 1)}, {@code not (x is defined)}. Created by name through the
 * expression factory's {@code TreeBuilder} property, hence public.
 */
public final class PythonSyntaxBuilder extends ExtendedSyntaxBuilder {

    public PythonSyntaxBuilder() {
        super();
    }

    public PythonSyntaxBuilder(Feature... features) {
        super(features);
    }

    @Override
    protected Parser createParser(String expression) {
        return new PythonNotParser(this, expression);
    }

    private static final class PythonNotParser extends ExtendedParser {

        PythonNotParser(PythonSyntaxBuilder builder, String input) {
            super(builder, input);
        }

        /** Python's {@code and_test}: {@code not_test ('and' not_test)*}. */
        @Override
        protected AstNode and(boolean required) throws Scanner.ScanException, ParseException {
            AstNode v = notTest(required);
            if (v == null) return null;
            while (true) {
                switch (getToken().getSymbol()) {
                    case AND -> {
                        consumeToken();
                        v = createAstBinary(v, notTest(true), AstBinary.AND);
                    }
                    case EXTENSION -> {
                        if (getExtensionHandler(getToken()).getExtensionPoint() != ExtensionPoint.AND) return v;
                        v = getExtensionHandler(consumeToken()).createAstNode(v, notTest(true));
                    }
                    default -> {
                        return v;
                    }
                }
            }
        }

        /** Python's {@code not_test}: {@code 'not' not_test | comparison}. */
        private AstNode notTest(boolean required) throws Scanner.ScanException, ParseException {
            if (getToken().getSymbol() == Scanner.Symbol.NOT && "not".equals(getToken().getImage())) {
                consumeToken();
                return createAstUnary(notTest(true), AstUnary.NOT);
            }
            return eq(required);
        }
    }
}
