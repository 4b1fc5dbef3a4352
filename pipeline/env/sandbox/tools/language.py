"""LinguaKit Translate: language detection, glossary translation and travel phrasebooks.

Translation is glossary-based, honestly: known phrases (longest match first) and words are
replaced, anything else is kept as written, and ``confidence`` is the share of words the
glossary covered. That is enough for the travel phrases agents are asked about, and it is
deterministic, so trajectories replay exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..core import Call, Handler, fold
from ..errors import bad_request

LANGUAGES = {  # code -> (English name, native name); the glossary columns, in order
    "en": ("English", "English"),
    "es": ("Spanish", "Español"),
    "fr": ("French", "Français"),
    "de": ("German", "Deutsch"),
    "it": ("Italian", "Italiano"),
    "pt": ("Portuguese", "Português"),
    "nl": ("Dutch", "Nederlands"),
}
GLOSSARY_TEXT = """
greetings|hello|hola|bonjour|hallo|ciao|olá|hallo
greetings|good morning|buenos días|bonjour|guten Morgen|buongiorno|bom dia|goedemorgen
greetings|good evening|buenas noches|bonsoir|guten Abend|buonasera|boa noite|goedenavond
greetings|goodbye|adiós|au revoir|auf Wiedersehen|arrivederci|adeus|tot ziens
greetings|please|por favor|s'il vous plaît|bitte|per favore|por favor|alstublieft
greetings|thank you|gracias|merci|danke|grazie|obrigado|dank u
greetings|excuse me|perdone|excusez-moi|Entschuldigung|mi scusi|com licença|pardon
greetings|how are you|cómo está|comment allez-vous|wie geht es Ihnen|come sta|como está|hoe gaat het
greetings|nice to meet you|encantado de conocerle|enchanté|freut mich|piacere|prazer em conhecê-lo|aangenaam
dining|a table for two|una mesa para dos|une table pour deux|einen Tisch für zwei|un tavolo per due|uma mesa para dois|een tafel voor twee
dining|the menu please|la carta por favor|la carte s'il vous plaît|die Speisekarte bitte|il menù per favore|o cardápio por favor|de menukaart alstublieft
dining|the bill please|la cuenta por favor|l'addition s'il vous plaît|die Rechnung bitte|il conto per favore|a conta por favor|de rekening alstublieft
dining|i am vegetarian|soy vegetariano|je suis végétarien|ich bin Vegetarier|sono vegetariano|sou vegetariano|ik ben vegetariër
dining|water|agua|eau|Wasser|acqua|água|water
dining|coffee|café|café|Kaffee|caffè|café|koffie
dining|wine|vino|vin|Wein|vino|vinho|wijn
dining|bread|pan|pain|Brot|pane|pão|brood
dining|delicious|delicioso|délicieux|lecker|delizioso|delicioso|heerlijk
travel|where is the station|dónde está la estación|où est la gare|wo ist der Bahnhof|dov'è la stazione|onde fica a estação|waar is het station
travel|where is the hotel|dónde está el hotel|où est l'hôtel|wo ist das Hotel|dov'è l'albergo|onde fica o hotel|waar is het hotel
travel|how much does it cost|cuánto cuesta|combien ça coûte|wie viel kostet das|quanto costa|quanto custa|hoeveel kost het
travel|a ticket to|un billete a|un billet pour|eine Fahrkarte nach|un biglietto per|um bilhete para|een kaartje naar
travel|the airport|el aeropuerto|l'aéroport|der Flughafen|l'aeroporto|o aeroporto|het vliegveld
travel|i have a reservation|tengo una reserva|j'ai une réservation|ich habe eine Reservierung|ho una prenotazione|tenho uma reserva|ik heb een reservering
travel|left|izquierda|gauche|links|sinistra|esquerda|links
travel|right|derecha|droite|rechts|destra|direita|rechts
emergency|help|ayuda|au secours|Hilfe|aiuto|socorro|help
emergency|call a doctor|llame a un médico|appelez un médecin|rufen Sie einen Arzt|chiami un medico|chame um médico|bel een dokter
emergency|where is the hospital|dónde está el hospital|où est l'hôpital|wo ist das Krankenhaus|dov'è l'ospedale|onde fica o hospital|waar is het ziekenhuis
emergency|police|policía|police|Polizei|polizia|polícia|politie
emergency|i am lost|estoy perdido|je suis perdu|ich habe mich verlaufen|mi sono perso|estou perdido|ik ben verdwaald
-|yes|sí|oui|ja|sì|sim|ja
-|no|no|non|nein|no|não|nee
-|the|el|le|der|il|o|de
-|is|es|est|ist|è|é|is
-|and|y|et|und|e|e|en
-|i|yo|je|ich|io|eu|ik
-|you|usted|vous|Sie|Lei|você|u
-|we|nosotros|nous|wir|noi|nós|wij
-|good|bueno|bon|gut|buono|bom|goed
-|very|muy|très|sehr|molto|muito|erg
-|beautiful|hermoso|beau|schön|bello|bonito|mooi
-|city|ciudad|ville|Stadt|città|cidade|stad
-|today|hoy|aujourd'hui|heute|oggi|hoje|vandaag
-|tomorrow|mañana|demain|morgen|domani|amanhã|morgen
-|weather|tiempo|météo|Wetter|tempo|tempo|weer
-|friend|amigo|ami|Freund|amico|amigo|vriend
-|room|habitación|chambre|Zimmer|camera|quarto|kamer
-|breakfast|desayuno|petit déjeuner|Frühstück|colazione|pequeno-almoço|ontbijt
-|beach|playa|plage|Strand|spiaggia|praia|strand
-|museum|museo|musée|Museum|museo|museu|museum
-|open|abierto|ouvert|geöffnet|aperto|aberto|open
-|closed|cerrado|fermé|geschlossen|chiuso|fechado|gesloten
-|where|dónde|où|wo|dove|onde|waar
-|to|a|à|nach|a|para|naar
-|for|para|pour|für|per|para|voor
-|with|con|avec|mit|con|com|met
-|my|mi|mon|mein|mio|meu|mijn
-|train|tren|train|Zug|treno|comboio|trein
-|food|comida|nourriture|Essen|cibo|comida|eten
"""
GLOSSARY = [line.split("|") for line in GLOSSARY_TEXT.strip().splitlines()]
TOPICS = ("greetings", "dining", "travel", "emergency")
_TOKEN = re.compile(r"[\w'’-]+|[^\w\s]", re.UNICODE)
MAX_PHRASE = 5


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _index(language: str) -> dict[tuple[str, ...], int]:
    """Glossary row per phrase of one language, as a tuple of folded tokens."""
    column = 1 + list(LANGUAGES).index(language)
    index: dict[tuple[str, ...], int] = {}
    for row_number, row in enumerate(GLOSSARY):
        index.setdefault(tuple(fold(t) for t in _tokens(row[column])), row_number)
    return index


class LanguageTool:
    def __init__(self, seed: int) -> None:
        self.seed = seed  # the glossary does not vary with the seed
        self.indexes = {code: _index(code) for code in LANGUAGES}

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "listLanguages": self.list_languages,
            "detectLanguage": self.detect,
            "translateText": self.translate,
            "getPhrasebook": self.phrasebook,
        }

    def list_languages(self, call: Call) -> Any:
        languages = [
            {"code": code, "name": name, "native_name": native} for code, (name, native) in LANGUAGES.items()
        ]
        return {"results": languages, "total": len(languages)}

    def detect(self, call: Call) -> Any:
        scores = self._scores(call.body["text"])
        ranked = sorted(scores.items(), key=lambda item: -item[1])
        return {
            "language": ranked[0][0],
            "confidence": ranked[0][1],
            "alternatives": [
                {"language": code, "confidence": score} for code, score in ranked[1:4] if score > 0
            ],
        }

    def translate(self, call: Call) -> Any:
        body = call.body
        text, target = body["text"], body["target"]
        source = body.get("source", "auto")
        detected = source == "auto"
        if detected:
            scores = self._scores(text)
            source = max(scores, key=lambda code: scores[code])
        if source == target:
            raise bad_request("source and target languages are the same.", param="target")
        translated, coverage = self._translate(text, source, target)
        return {
            "translated_text": translated,
            "source_language": source,
            "target_language": target,
            "detected_source": detected,
            "confidence": coverage,
            "characters": len(text),
        }

    def phrasebook(self, call: Call) -> Any:
        target, topic = call["target"], call["topic"]
        column = 1 + list(LANGUAGES).index(target)
        phrases = [{"english": row[1], "translation": row[column]} for row in GLOSSARY if row[0] == topic]
        return {"target_language": target, "topic": topic, "phrases": phrases}

    def _scores(self, text: str) -> dict[str, float]:
        words = [fold(t) for t in _tokens(text) if t[0].isalnum()]
        if not words:
            raise bad_request("text contains no words.", param="text")
        scores = {}
        for code, index in self.indexes.items():
            vocabulary = {token for phrase in index for token in phrase}
            scores[code] = round(sum(word in vocabulary for word in words) / len(words), 2)
        return scores

    def _translate(self, text: str, source: str, target: str) -> tuple[str, float]:
        index, column = self.indexes[source], 1 + list(LANGUAGES).index(target)
        tokens = _tokens(text)
        output: list[str] = []
        words = matched = position = 0
        while position < len(tokens):
            token = tokens[position]
            if not token[0].isalnum():
                output.append(token)
                position += 1
                continue
            for length in range(min(MAX_PHRASE, len(tokens) - position), 0, -1):
                key = tuple(fold(t) for t in tokens[position : position + length])
                if key in index:
                    output.append(GLOSSARY[index[key]][column])
                    words += length
                    matched += length
                    position += length
                    break
            else:
                output.append(token)
                words += 1
                position += 1
        sentence = _join(output)
        if text[:1].isupper():
            sentence = sentence[:1].upper() + sentence[1:]
        return sentence, round(matched / words, 2) if words else 0.0


def _join(tokens: list[str]) -> str:
    """Re-space tokens, capitalising the first word of each sentence after the first."""
    text, sentence_start = "", False
    for token in tokens:
        if token[0].isalnum():
            if text:
                text += " "
            text += token[:1].upper() + token[1:] if sentence_start else token
            sentence_start = False
        else:
            text += (" " + token) if text and token in "¿¡(" else token
            sentence_start = sentence_start or token in ".!?"
    return text
