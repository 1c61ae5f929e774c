/**
 * An in-app link: a real `<a href>` (so it opens in a new tab, copies, and reads as a link) that
 * navigates without a reload on a plain click.
 */
import type { ComponentChildren } from "preact";
import { navigate } from "../models/router";

type Props = {
  href: string;
  class?: string;
  title?: string;
  "aria-current"?: "page" | undefined;
  onClick?: (event: MouseEvent) => void;
  children?: ComponentChildren;
};

export function Link({ href, onClick, children, ...rest }: Props) {
  return (
    <a
      {...rest}
      href={href}
      onClick={(event) => {
        onClick?.(event);
        if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
        event.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}
