/**
 * The schedules section, one lazily loaded chunk: picks the list, a schedule's page, or the
 * create/edit form for the current route. Each schedule page is keyed by its id, so its model is
 * made fresh for it.
 */
import type { Route } from "../../models/router";
import { ScheduleFormPage } from "./schedule-form-page";
import { ScheduleListPage } from "./schedule-list-page";
import { SchedulePage } from "./schedule-page";

export function SchedulesRoute({ route }: { route: Route }) {
  switch (route.name) {
    case "schedule":
      return <SchedulePage key={route.scheduleId} scheduleId={route.scheduleId} />;
    case "schedule-edit":
      return <ScheduleFormPage key={`edit-${route.scheduleId}`} scheduleId={route.scheduleId} />;
    case "schedule-new":
      return <ScheduleFormPage key="new" scheduleId={null} />;
    default:
      return <ScheduleListPage />;
  }
}
