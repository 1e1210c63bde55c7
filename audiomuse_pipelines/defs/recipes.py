"""Living playlists: one partition per saved recipe, refreshed by a schedule (daily, weekly), by new
music (an automation condition on a new similarity index), or by hand; a daily mix per listener."""

from datetime import datetime, timezone

import dagster as dg

from audiomuse.recipes.model import TIMED, Recipe
from audiomuse.recipes.store import list_recipes
from audiomuse_pipelines.defs.resources import DatabaseResource, MediaServerResource, RecipesResource
from audiomuse_pipelines.defs.similarity import similarity_index

recipes_partitions = dg.DynamicPartitionsDefinition(name="recipes")
RECIPE_TAGS = {"audiomuse/kind": "recipe"}
WEEKLY_ON = 0  # Monday


class RefreshPolicyIs(dg.AutomationCondition):
    """True for the recipe partitions whose refresh policy is ``policy``. The policy lives in the
    recipes table, not in the partition key, so a policy edited in the explorer counts from the next
    evaluation. Python of our own: it runs in the code server (``use_user_code_server`` below)."""

    def __init__(self, policy: str, database: DatabaseResource | None = None):
        self.policy = policy
        self.database = database or DatabaseResource()  # unset fields: the code location's settings

    @property
    def name(self) -> str:
        return f"refresh_policy_is({self.policy})"

    @property
    def description(self) -> str:
        return f"the recipe's refresh policy is {self.policy!r}"

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
        if context.candidate_subset.is_empty:  # nothing asks: no query
            return dg.AutomationResult(context, context.candidate_subset)
        with self.database.database().connection() as conn:
            keys = {r.partition_key for r in list_recipes(conn, refresh=[self.policy])}
        return dg.AutomationResult(context, context.candidate_subset.compute_intersection_with_partition_keys(keys))


def on_new_music(database: DatabaseResource | None = None) -> dg.AutomationCondition:
    """A new similarity index (since this partition was last requested or refreshed) for an 'on new
    music' recipe, once no index build or refresh of it is running."""
    return (
        dg.AutomationCondition.any_deps_updated().since_last_handled().with_label("new index since last refresh")
        & RefreshPolicyIs("new_music", database)
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    )


@dg.asset(
    partitions_def=recipes_partitions,
    deps=[similarity_index],
    automation_condition=on_new_music(),
    group_name="recipes",
    kinds={"postgres"},
    op_tags=RECIPE_TAGS,
    description="One saved recipe's playlist, made again from the current library and replaced in place on "
    "the media server (as the recipe's owner). A failed refresh keeps the previous playlist.",
)
def recipe_playlists(
    context: dg.AssetExecutionContext,
    database: DatabaseResource,
    media_server: MediaServerResource,
    recipes: RecipesResource,
) -> dg.MaterializeResult:
    from audiomuse.recipes.build import RecipeError
    from audiomuse.recipes.refresh import record_error

    db = database.database()
    recipe = recipes.recipe(db, context.partition_key)
    context.log.info(f"recipe {recipe.id}: {recipe.name!r} ({recipe.kind}) of {recipe.owner or 'the configured user'}")
    try:
        with media_server.provider() as provider:
            report = recipes.refresh(db, provider, recipe)
    except RecipeError as exc:  # the library cannot make it (seed gone, no history): keep the last version
        record_error(db, recipe, exc)
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    context.log.info(f"{report.playlist}: {len(report.track_ids)} songs, {len(report.added)} added, "
                     f"{len(report.removed)} removed")
    return dg.MaterializeResult(metadata={
        "recipe": recipe.name, "kind": recipe.kind, "owner": recipe.owner or "", "refresh": recipe.refresh,
        "playlist": report.playlist, "provider_id": report.provider_id, "songs": len(report.track_ids),
        "added": dg.MetadataValue.json(list(report.added)), "removed": dg.MetadataValue.json(list(report.removed)),
    })


def _request(recipe: Recipe, run_key: str) -> dg.RunRequest:
    tags = {**RECIPE_TAGS, "audiomuse/recipe": recipe.name, "audiomuse/owner": recipe.owner or ""}
    return dg.RunRequest(run_key=run_key, partition_key=recipe.partition_key, tags=tags)


def due(recipe: Recipe, at: datetime) -> bool:
    """Whether a timed recipe's refresh falls in the hour starting at ``at``."""
    if recipe.refresh not in TIMED or recipe.refresh_hour != at.hour:
        return False
    return recipe.refresh == "daily" or at.weekday() == WEEKLY_ON


@dg.schedule(
    cron_schedule="0 * * * *",
    target=[recipe_playlists],
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour: refreshes the daily recipes (and weekly ones on Mondays) whose hour it is.",
)
def recipe_schedule(context: dg.ScheduleEvaluationContext, database: DatabaseResource) -> list[dg.RunRequest]:
    at = context.scheduled_execution_time or datetime.now(timezone.utc)
    with database.database().connection() as conn:
        timed = list_recipes(conn, refresh=list(TIMED))
    known = set(context.instance.get_dynamic_partitions(recipes_partitions.name))
    stamp = at.strftime("%Y-%m-%dT%H")
    return [_request(r, f"{r.id}@{stamp}") for r in timed if due(r, at) and r.partition_key in known]


# A listener without history is asked again at most hourly, not at every tick (a server call each).
DAILY_MIX_CHECK_S = 3600


def _timestamp(cursor: str | None) -> float:
    """The sensor cursor's time; 0 (check now) when unset or not a number (edited by hand)."""
    try:
        return float(cursor or 0)
    except ValueError:
        return 0.0


@dg.sensor(
    target=[recipe_playlists],
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps one partition per saved recipe (and a daily mix per listener) and builds each new "
    "recipe once.",
)
def recipes_sensor(
    context: dg.SensorEvaluationContext,
    database: DatabaseResource,
    media_server: MediaServerResource,
    recipes: RecipesResource,
) -> dg.SensorResult:
    db = database.database()
    now = datetime.now(timezone.utc).timestamp()
    checked = _timestamp(context.cursor)  # when listeners' histories were last asked for
    if now - checked >= DAILY_MIX_CHECK_S:
        with media_server.provider() as provider:
            created = recipes.ensure_daily_mixes(db, provider)
        if created:
            context.log.info(f"daily mix recipes added: {created}")
        checked = now
    with db.connection() as conn:
        stored = list_recipes(conn)
    known = set(context.instance.get_dynamic_partitions(recipes_partitions.name))
    keys = {r.partition_key for r in stored}
    requests = [_request(r, f"{r.id}@first") for r in stored if r.refreshed_at is None]
    partitions = []
    if keys - known:
        partitions.append(recipes_partitions.build_add_request(sorted(keys - known)))
    if known - keys:
        partitions.append(recipes_partitions.build_delete_request(sorted(known - keys)))
    return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=partitions, cursor=str(checked))


recipes_automation = dg.AutomationConditionSensorDefinition(
    "recipes_automation",
    target=dg.AssetSelection.assets(recipe_playlists),
    use_user_code_server=True,  # RefreshPolicyIs reads the recipes table
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    run_tags=RECIPE_TAGS,
    description="Refreshes the 'on new music' recipes after the similarity index changes.",
)
