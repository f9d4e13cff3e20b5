package dev.kvasir.memory.facts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The rules on a table of phrasings: what each must yield (key, value, correction flag), and the
 * negations, questions, hypotheticals and facts about other people that must yield nothing.
 */
class RuleFactExtractorTest {
    private final RuleFactExtractor rules = new RuleFactExtractor();

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', nullValues = "-", textBlock = """
            # identity
            My name is Ann Lee.                               | user.name                    | Ann Lee            | false
            Call me Ishmael                                   | user.name                    | Ishmael            | false
            Hi! I'm Priya                                     | user.name                    | Priya              | false
            I go by Sam these days                            | user.name                    | Sam                | false
            I'm 34 years old                                  | user.age                     | 34                 | false
            I just turned 40 last week                        | user.age                     | 40                 | false
            My pronouns are they/them                         | user.pronouns                | they/them          | false
            # places
            I live in Oslo                                    | user.home_city               | Oslo               | false
            We moved to Lisbon last year                      | user.home_city               | Lisbon             | false
            I've just relocated to New York with my wife      | user.home_city               | New York           | false
            I'm now based in Nairobi                          | user.home_city               | Nairobi            | false
            I'm originally from Bergen                        | user.hometown                | Bergen             | false
            I grew up in Cork, a small city                   | user.hometown                | Cork               | false
            # work
            I work as a nurse at the city hospital            | user.job                     | nurse              | false
            I'm a software engineer                           | user.job                     | software engineer  | false
            My job is data analyst                            | user.job                     | data analyst       | false
            I am a carpenter by trade                         | user.job                     | carpenter          | false
            I work at Globex                                  | user.employer                | Globex             | false
            I just joined Initech                             | user.employer                | Initech            | false
            # relations and pets
            My wife's name is Ana                             | user.wife_name               | Ana                | false
            My dog is called Biscuit                          | user.dog_name                | Biscuit            | false
            I have a golden retriever named Pepper            | user.dog_name                | Pepper             | false
            Ingrid is my sister                               | user.sister_name             | Ingrid             | false
            My mum is named Rosa                              | user.mother_name             | Rosa               | false
            My daughter's name is Zoe and she turns 7 in May  | user.daughter_name           | Zoe                | false
            # preferences
            I prefer dark mode in every app                   | user.preference.theme        | dark mode          | false
            I much prefer tea over coffee                     | user.preference.drink        | tea                | false
            I'd rather have a window seat                     | user.preference.seat         | a window seat      | false
            My favorite color is teal                         | user.favorite_color          | teal               | false
            Jazz is my favourite music                        | user.favorite_music          | Jazz               | false
            I really love hiking in the mountains             | user.likes.hiking            | likes hiking       | false
            I hate cilantro                                   | user.likes.cilantro          | dislikes cilantro  | false
            I don't like horror movies                        | user.likes.horror_movies     | dislikes horror movies | false
            # plans and dates
            My birthday is on May 3                           | user.birthday                | May 3              | false
            I'm flying to Tokyo next week                     | user.next_trip               | Tokyo next week    | false
            I have a dentist appointment on Friday            | user.schedule.dentist_appointment | on Friday     | false
            My team meeting is at 10am on Mondays             | user.schedule.team_meeting   | at 10am on Mondays | false
            I plan to run a marathon in May                   | user.plan.run                | run a marathon in May | false
            # remember that
            Remember that my locker code is 4411              | user.locker_code             | 4411               | false
            Please remember: I live in Kyoto                  | user.home_city               | Kyoto              | false
            Don't forget that my email is ann@example.com     | user.email                   | ann@example.com    | false
            # corrections
            Actually, I prefer light mode                     | user.preference.theme        | light mode         | true
            Actually I moved to Porto                         | user.home_city               | Porto              | true
            My name is not Jon but John                       | user.name                    | John               | true
            I live not in Lisbon but in Porto                 | user.home_city               | Porto              | true
            Sorry, I meant I work as a pilot                  | user.job                     | pilot              | true
            No, my birthday is on June 14                     | user.birthday                | June 14            | true
            Correction: my dog is called Rex                  | user.dog_name                | Rex                | true
            # negations, questions, hypotheticals, other people, chatter: nothing
            I don't live in Paris                             | -                            | -                  | false
            I'm not a doctor                                  | -                            | -                  | false
            I never worked at Google                          | -                            | -                  | false
            My name isn't Bob                                 | -                            | -                  | false
            I no longer work at Acme                          | -                            | -                  | false
            I haven't moved to Berlin yet                     | -                            | -                  | false
            Where do I live?                                  | -                            | -                  | false
            What is my name                                   | -                            | -                  | false
            Do you know my favorite color?                    | -                            | -                  | false
            Should I move to Berlin?                          | -                            | -                  | false
            Do I prefer tea or coffee?                        | -                            | -                  | false
            If I lived in Paris I would walk everywhere       | -                            | -                  | false
            I might move to Berlin                            | -                            | -                  | false
            Maybe I prefer tea                                | -                            | -                  | false
            I wish I lived in Rome                            | -                            | -                  | false
            I'm thinking of moving to Oslo                    | -                            | -                  | false
            I used to live in Madrid                          | -                            | -                  | false
            My friend lives in Rome                           | -                            | -                  | false
            My sister works as a dentist                      | -                            | -                  | false
            I'd like a coffee please                          | -                            | -                  | false
            I love you                                        | -                            | -                  | false
            I'm tired today                                   | -                            | -                  | false
            I'm a big fan of that show                        | -                            | -                  | false
            The weather in Oslo is lovely today               | -                            | -                  | false
            I moved into a new apartment                      | -                            | -                  | false
            """)
    void table(String message, String key, String value, boolean correction) {
        List<Fact> facts = rules.extract(message, FactContext.NONE);
        if (key == null) {
            assertEquals(List.of(), facts, message);
            return;
        }
        assertEquals(1, facts.size(), message + " -> " + facts);
        Fact f = facts.get(0);
        assertEquals(key, f.key(), message);
        assertEquals(value, f.value(), message);
        assertEquals(correction, f.correction(), message);
        assertTrue(f.statement().contains(f.value()), f.statement());
    }

    @Test
    void aBareCorrectionLandsOnTheConversationsLatestKey() {
        List<Fact> facts = rules.extract("No, I meant Porto.", new FactContext("user.home_city"));
        assertEquals(1, facts.size(), facts.toString());
        assertEquals("user.home_city", facts.get(0).key());
        assertEquals("Porto", facts.get(0).value());
        assertTrue(facts.get(0).correction());
        assertEquals("The user lives in Porto", facts.get(0).statement());
        assertEquals(List.of(), rules.extract("No, I meant Porto.", FactContext.NONE), "without context there is nothing to correct");
        assertEquals(List.of(), rules.extract("No worries.", new FactContext("user.home_city")));
    }

    @Test
    void oneMessageMayHoldSeveralFactsAndTheLaterSentencesSeeTheEarlierKeys() {
        List<Fact> facts = rules.extract("I'm from Bergen but I live in Oslo now, and I work as a nurse. Actually, midwife.",
                FactContext.NONE);
        assertEquals(List.of("user.hometown", "user.home_city", "user.job"), facts.stream().map(Fact::key).toList());
        assertEquals(List.of("Bergen", "Oslo", "midwife"), facts.stream().map(Fact::value).toList(), "the later value of a key stands");
        assertTrue(facts.get(2).correction());
    }

    @Test
    void rememberedFactsGoToCoreAndNotesKeepTheirText() {
        Fact remembered = rules.extract("Please remember that I prefer aisle seats", FactContext.NONE).get(0);
        assertTrue(remembered.core());
        assertEquals(0.9, remembered.importance());
        Fact note = rules.extract("Remember that I'm allergic to peanuts", FactContext.NONE).get(0);
        assertEquals(null, note.key());
        assertEquals("I'm allergic to peanuts", note.value());
        assertTrue(note.core());
    }

    @Test
    void anyTextIsReadWithoutFailing() {
        for (String s : new String[] {"", "   ", "?", "!!!", "my name is", "I live in", "I'm", "\u0000\u0001", "a".repeat(20_000),
                "My name is " + "x ".repeat(500), "Remember that", "no, I meant", "not but"}) {
            rules.extract(s, new FactContext("user.name"));
        }
    }
}
