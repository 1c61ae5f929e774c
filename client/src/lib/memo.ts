/**
 * `memo` without preact/compat (which would add its whole compatibility layer to the bundle): a
 * component that re-renders only when a prop changes by identity.
 */
import { Component, type ComponentType, type FunctionComponent, h } from "preact";

export function memo<P extends object>(render: FunctionComponent<P>): ComponentType<P> {
  class Memo extends Component<P> {
    override shouldComponentUpdate(next: P): boolean {
      const prev = this.props as Record<string, unknown>;
      const keys = Object.keys(next);
      return (
        keys.length !== Object.keys(prev).length || keys.some((k) => prev[k] !== (next as Record<string, unknown>)[k])
      );
    }
    override render(props: P) {
      return h(render, props);
    }
  }
  return Memo as unknown as ComponentType<P>;
}
