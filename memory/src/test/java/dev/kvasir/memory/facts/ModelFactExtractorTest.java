package dev.kvasir.memory.facts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The model's answer is read defensively: well-formed items pass, anything else yields nothing. */
class ModelFactExtractorTest {

    @Test
    void aWellFormedArrayInsideProseIsRead() {
        List<Fact> facts = ModelFactExtractor.parse("Sure! Here are the facts: [{\"key\": \"user.home_city\", \"value\": \"Oslo\","
                + " \"confidence\": 0.95, \"correction\": false}, {\"key\": \"User.Job\", \"value\": \"nurse [night shifts]\"},"
                + " {\"key\": \"user.preference.theme\", \"value\": \"light mode\", \"correction\": true}] Hope that helps.");
        assertEquals(List.of("user.home_city", "user.preference.theme"), facts.stream().map(Fact::key).toList(),
                "a value with brackets is refused, the rest kept");
        assertEquals(ModelFactExtractor.MAX_CONFIDENCE, facts.get(0).confidence(), "the model's confidence is capped");
        assertTrue(facts.get(1).correction());
        assertEquals("The user lives in Oslo", facts.get(0).statement());
    }

    @Test
    void whatATinyModelWritesYieldsNothing() {
        for (String answer : new String[] {
                "Once upon a time, there was a little girl named Lily. She loved to play outside.",
                "[{\"key\": \"user.home_city\", \"value\": \"Os",
                "[1, 2, \"three\", null, {\"key\": 5, \"value\": \"x\"}]",
                "[{\"key\": \"friend.city\", \"value\": \"Rome\"}, {\"key\": \"user\", \"value\": \"x\"}]",
                "[{\"key\": \"user.name\", \"value\": \"\"}, {\"key\": \"user.bio\", \"value\": \"line one\\nline two\"}]",
                "{\"key\": \"user.name\", \"value\": \"Ann\"}",
                "]][[", "", "[]"}) {
            assertEquals(List.of(), ModelFactExtractor.parse(answer), answer);
        }
        assertEquals(List.of(), new ModelFactExtractor(() -> null).extract("My name is Ann", FactContext.NONE), "no model attached");
    }

    @Test
    void bothKeepsTheRulesAndAddsTheModelsOtherKeys() {
        List<Fact> rules = new RuleFactExtractor().extract("I live in Oslo", FactContext.NONE);
        List<Fact> model = ModelFactExtractor.parse("[{\"key\":\"user.home_city\",\"value\":\"Bergen\"},{\"key\":\"user.job\",\"value\":\"nurse\"}]");
        List<Fact> merged = FactExtractors.merge(rules, model);
        assertEquals(List.of("user.home_city=Oslo", "user.job=nurse"), merged.stream().map(f -> f.key() + "=" + f.value()).toList());
    }
}
