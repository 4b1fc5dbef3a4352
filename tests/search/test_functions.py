"""Function schemas, names and the system prompt, checked against ToolBench's released answers."""

from __future__ import annotations

import re

import pytest

from pipeline.models import Api, Param, SourceRef, Tool
from pipeline.search.functions import (
    FINISH_FUNCTION,
    FunctionCatalog,
    function_name,
    standardize_parameter,
    system_prompt,
)

NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
SOURCE = SourceRef(kind="file", location="fixture.json", format="toolbench")


def tool(name: str, apis: list[Api] | None = None, description: str = "", id: str = "") -> Tool:
    return Tool(id=id, tool_name=name, tool_description=description, source=SOURCE, api_list=apis or [])


def param(name: str, type: str = "STRING", **kwargs) -> Param:
    return Param(name=name, type=type, **kwargs)


# Copied from ToolBench's data_example answers (G1_answer_10, G2_answer_127, G3_answer_21).
TRANSITAIRE = {
    "name": "transitaire_for_transitaires",
    "description": 'This is the subfunction for tool "transitaires", you can use this tool.The '
    'description of this function is: "Récupère un transitaire donnée"',
    "parameters": {
        "type": "object",
        "properties": {
            "is_id": {"type": "string", "description": "", "example_value": "DOUANE_AGENCE_GONDRAND"}
        },
        "required": ["is_id"],
        "optional": [],
    },
}
TRANSITAIRES = {
    "name": "transitaires_for_transitaires",
    "description": 'This is the subfunction for tool "transitaires", you can use this tool.The '
    'description of this function is: "Renvoie tous les transiatires"',
    "parameters": {"type": "object", "properties": {}, "required": [], "optional": []},
}
TOOLBENCH_SYSTEM_G2 = (
    "You are AutoGPT, you can use many tools(functions) to do the following task.\nFirst I will "
    "give you the task description, and your task start.\nAt each step, you need to give your "
    "thought to analyze the status now and what to do next, with a function call to actually "
    "excute your step.\nAfter the call, you will get the call result, and you are now in a new "
    "state.\nThen you will analyze your status now, then decide what to do next...\nAfter many "
    "(Thought-call) pairs, you finally perform the task, then you can give your finial answer.\n"
    "Remember: \n1.the state change is irreversible, you can't go back to one of the former state, "
    'if you want to restart the task, say "I give up and restart".\n2.All the thought is short, '
    "at most in 5 sentence.\n3.You can do more then one trys, so if your plan is to continusly try "
    "some conditions, you can do one of the conditions per try.\nLet's Begin!\nTask description: "
    "You should use functions to help handle the real time user querys. Remember:\n1.ALWAYS call "
    '"Finish" function at the end of the task. And the final answer should contain enough '
    "information to show to the user,If you can't handle the task, or you find that function "
    "calls always fail(the function is not valid now), use function Finish->give_up_and_restart."
    "\n2.Do not use origin tool names, use only subfunctions' names.\nYou have access of the "
    "following tools:\n1.pack_send: Logistics and Shipment Services\n2.pridnestrovie_post: "
    "Transnistria parcel tracking\n"
)


def transitaires_tool() -> Tool:
    return tool(
        "transitaires",
        [
            # The real API names are capitalised: ToolBench's case-sensitive replace of the API name
            # in the description leaves "un transitaire donnée" alone.
            Api(
                name="Transitaire",
                id="transitaire",
                description="Récupère un transitaire donnée",
                required_parameters=[param("id", default="DOUANE_AGENCE_GONDRAND")],
            ),
            Api(name="Transitaires", id="transitaires", description="Renvoie tous les transiatires"),
        ],
        description="Transitaires de dédouanement en Nouvelle-Calédonie",
        id="transitaires",
    )


def catalog_of(*tools: Tool, **kwargs) -> FunctionCatalog:
    return FunctionCatalog([(t, a) for t in tools for a in t.api_list], **kwargs)


def test_functions_equal_toolbench_answer_file() -> None:
    functions = catalog_of(transitaires_tool()).functions()
    assert functions[:2] == [TRANSITAIRE, TRANSITAIRES]
    assert functions[2] == FINISH_FUNCTION


@pytest.mark.parametrize(
    ("tool_name", "api_name", "expected"),
    [
        ("transitaires", "transitaire", "transitaire_for_transitaires"),
        ("Pack & Send", "Api Tracking", "api_tracking_for_pack_send"),
        ("Pridnestrovie Post", "Get Track Info", "get_track_info_for_pridnestrovie_post"),
        ("Dota 2 Steam Web", "Match Details", "match_details_for_dota_2_steam_web"),
        (
            "Minecraft-Forge-Optifine",
            "downloadMinecraftJarChecksum",
            "downloadminecraftjarchecksum_for_minecraft_forge_optifine",
        ),
        ("Raider.IO", "Raiderio Call", "raiderio_call_for_raider_io"),
        ("Diablo4 Smartable", "GetSponsorships", "getsponsorships_for_diablo4_smartable"),
    ],
)
def test_names_match_toolbench(tool_name: str, api_name: str, expected: str) -> None:
    assert function_name(tool(tool_name), Api(name=api_name)) == expected


def test_api_name_in_description_becomes_the_function_name() -> None:
    # ToolBench: "get_track_info_for_pridnestrovie_post by track number" (G2_answer_127).
    t = tool(
        "Pridnestrovie Post",
        [
            Api(
                name="Get Track Info",
                description="Get Track Info by track number",
                required_parameters=[param("track_number")],
            )
        ],
    )
    [function, _finish] = catalog_of(t).functions()
    assert function["description"].endswith(
        'The description of this function is: "get_track_info_for_pridnestrovie_post by track number"'
    )


def test_required_and_optional_lists_and_types() -> None:
    api = Api(
        name="Match Details",
        required_parameters=[
            param("match_id", "NUMBER", default=27110133),
            param("matches_requested", "NUMBER", default="25"),
        ],
        optional_parameters=[
            param("player_name"),
            param("skill", "NUMBER"),
            param("flag", "BOOLEAN"),
            param("tags", "ARRAY"),
            param("ids", "ARRAY", schema={"type": "array"}),
            param("when", schema={"type": "string", "format": "date"}, example="2023-01-01", default="x"),
        ],
    )
    [function, _] = catalog_of(tool("Dota 2 Steam Web", [api])).functions()
    parameters = function["parameters"]
    assert parameters["required"] == ["match_id", "matches_requested"]
    assert parameters["optional"] == ["player_name", "skill", "flag", "tags", "ids", "when"]
    props = parameters["properties"]
    assert props["match_id"] == {"type": "integer", "description": "", "example_value": 27110133}
    assert props["skill"]["type"] == "integer"  # ToolBench's NUMBER → integer (label only)
    assert props["flag"]["type"] == "boolean"
    assert props["tags"]["type"] == "string"  # ToolBench maps other labels to string
    assert props["ids"] == {"type": "array", "items": {}, "description": ""}  # schema kept
    assert props["when"]["format"] == "date" and props["when"]["example_value"] == "2023-01-01"
    assert "example_value" not in props["player_name"]


def test_descriptions_cut_to_configured_length() -> None:
    api = Api(name="a", description="x" * 1000, required_parameters=[param("q", description="y" * 1000)])
    [function, _] = catalog_of(tool("t", [api])).functions()
    assert function["description"].endswith('"' + "x" * 256 + '"')
    assert function["parameters"]["properties"]["q"]["description"] == "y" * 256
    [short, _] = catalog_of(tool("t", [api]), description_max_length=10).functions()
    assert short["description"].endswith('"' + "x" * 10 + '"')


def test_name_keeps_last_64_characters() -> None:
    api = Api(name="retrieve all the historical exchange rates between two currencies")
    name = function_name(tool("Currency Exchange"), api)
    full = "retrieve_all_the_historical_exchange_rates_between_two_currencies_for_currency_exchange"
    assert name == full[-64:] and len(name) == 64
    assert name.endswith("_for_currency_exchange")


def test_leading_digit_gets_get_prefix_and_keywords_get_is_prefix() -> None:
    assert function_name(tool("1Forge"), Api(name="2 day forecast")) == "get_2_day_forecast_for_get_1forge"
    assert function_name(tool("Weather"), Api(name="From")) == "is_from_for_weather"
    for keyword in ["from", "class", "return", "false", "true", "id", "and", "ID", "Class"]:
        assert standardize_parameter(keyword) == "is_" + keyword.lower()
    assert standardize_parameter("user-id") == "user_id"
    assert standardize_parameter("import") == "import"  # only ToolBench's seven words


@pytest.mark.parametrize(
    "hostile",
    [
        "",
        "   ",
        "🚀🔥",
        "名前",
        "a" * 300,
        "Ünïcödé naïve café",
        "--__--",
        "0",
        "tab\there\nnew",
        "x" * 63 + "🚀" * 40,
    ],
)
def test_names_always_valid(hostile: str) -> None:
    name = function_name(tool(hostile), Api(name=hostile))
    assert NAME.match(name), name
    assert NAME.match(standardize_parameter(hostile))
    catalog = catalog_of(tool(hostile, [Api(name=hostile, required_parameters=[param(hostile)])]))
    for function in catalog.functions():
        assert NAME.match(function["name"])
        assert all(NAME.match(p) for p in function["parameters"]["properties"])


def test_colliding_names_are_disambiguated_deterministically() -> None:
    long_tool = "A Very Long Tool Name That Surely Exceeds The Limit On Its Own Quite Easily"
    t = tool(
        long_tool,
        [
            Api(name="Get Items", id="get_items"),
            Api(name="Get-Items", id="get_items_2"),
            Api(name="List Users", id="list_users"),
        ],
        id="long",
    )
    s = tool(
        "s",
        [Api(name="Get Items", id="a"), Api(name="get_items", id="b"), Api(name="GET ITEMS!", id="c")],
        id="s",
    )
    catalog = catalog_of(t, s)
    names = catalog.names
    assert len(names) == len(set(names)) == 6
    assert all(NAME.match(n) and len(n) <= 64 for n in names)
    # The long tool's name fills all 64 characters, so every API of it cuts to the same name.
    assert function_name(t, t.api_list[0]) == function_name(t, t.api_list[2])
    assert names[1].endswith("_2") and names[2].endswith("_3")
    assert names[3:] == ["get_items_for_s", "get_items_for_s_2", "get_items_for_s_3"]
    assert catalog_of(t, s).names == names  # deterministic
    assert {catalog.resolve(n) for n in names} == {
        ("long", "get_items"),
        ("long", "get_items_2"),
        ("long", "list_users"),
        ("s", "a"),
        ("s", "b"),
        ("s", "c"),
    }


def test_colliding_parameter_names_are_disambiguated() -> None:
    api = Api(
        name="search",
        required_parameters=[param("user-id"), param("user_id")],
        optional_parameters=[param("User ID"), param("id"), param("is_id")],
    )
    catalog = catalog_of(tool("t", [api]))
    [function, _] = catalog.functions()
    shown = list(function["parameters"]["properties"])
    assert shown == ["user_id", "user_id_2", "user_id_3", "is_id", "is_id_2"]
    args = catalog.to_api_arguments("search_for_t", {s: i for i, s in enumerate(shown)})
    assert args == {"user-id": 0, "user_id": 1, "User ID": 2, "id": 3, "is_id": 4}


def test_round_trip_name_to_api_and_arguments_to_real_names() -> None:
    catalog = catalog_of(transitaires_tool())
    assert catalog.resolve("transitaire_for_transitaires") == ("transitaires", "transitaire")
    assert catalog.resolve("transitaires_for_transitaires") == ("transitaires", "transitaires")
    assert catalog.name_for("transitaires", "transitaire") == "transitaire_for_transitaires"
    assert catalog.resolve("Finish") is None
    assert catalog.resolve("nope") is None
    assert catalog.to_api_arguments("transitaire_for_transitaires", {"is_id": "DOUANE_AGENCE_GONDRAND"}) == {
        "id": "DOUANE_AGENCE_GONDRAND"
    }
    # A real name, or a name the API does not know, passes through (the environment validates).
    assert catalog.to_api_arguments("transitaire_for_transitaires", {"id": 1, "extra": 2}) == {
        "id": 1,
        "extra": 2,
    }
    with pytest.raises(KeyError):
        catalog.to_api_arguments("Finish", {})


def test_same_api_twice_is_one_function() -> None:
    t = transitaires_tool()
    catalog = FunctionCatalog([(t, t.api_list[0]), (t, t.api_list[0])])
    assert catalog.names == ["transitaire_for_transitaires"]


def test_tools_format_with_finish_last() -> None:
    tools = catalog_of(transitaires_tool()).tools()
    assert all(t["type"] == "function" for t in tools)
    assert [t["function"]["name"] for t in tools] == [
        "transitaire_for_transitaires",
        "transitaires_for_transitaires",
        "Finish",
    ]
    finish = tools[-1]["function"]
    assert finish["parameters"]["properties"]["return_type"]["enum"] == ["give_answer", "give_up_and_restart"]
    assert finish["parameters"]["required"] == ["return_type"]
    assert finish["parameters"]["properties"]["final_answer"] == {
        "type": "string",
        "description": "The final answer you want to give the user. You should have this field "
        'if "return_type"=="give_answer"',
    }
    assert finish["description"].startswith("If you believe that you have obtained a result")
    assert finish["description"].endswith("so it should contain sufficient information.")
    tools[-1]["function"]["name"] = "changed"  # callers get copies
    assert catalog_of(transitaires_tool()).tools()[-1]["function"]["name"] == "Finish"


def test_system_prompt_equals_toolbench() -> None:
    tools = [
        tool("Pack & Send", description="Logistics and Shipment Services"),
        tool("Pridnestrovie Post", description="Transnistria parcel tracking"),
    ]
    assert system_prompt(tools) == TOOLBENCH_SYSTEM_G2


def test_system_prompt_numbers_tools_once_and_cuts_descriptions() -> None:
    t = transitaires_tool()
    other = tool("Other Tool", [Api(name="x")], description="d" * 600, id="other")
    prompt = catalog_of(t, other).system_prompt()
    assert prompt.endswith(
        "You have access of the following tools:\n"
        "1.transitaires: Transitaires de dédouanement en Nouvelle-Calédonie\n"
        f"2.other_tool: {'d' * 512}\n"
    )
