// The velocity counts of one event (distinct IPs, countries, linked IDs; visitors sharing the
// linked ID or IP) over 5 minutes, an hour and a day, as the event and visitor pages show them.
import type { Schemas } from '../api';
import { formatNumber } from './common';
import { ScrollBox } from './settingsFields';

type Velocity = Schemas['Event']['velocity'];

const WINDOWS = ['5m', '1h', '24h'] as const;
const COUNTS: [keyof Omit<Velocity, 'newDeviceForAccount' | 'travelKmh'>, string][] = [
  ['distinctIp', 'Distinct IP addresses of the visitor'],
  ['distinctCountry', 'Distinct countries of the visitor'],
  ['distinctLinkedId', 'Distinct linked IDs of the visitor'],
  ['visitorsPerLinkedId', 'Visitors sharing its linked ID'],
  ['visitorsPerIp', 'Visitors sharing its IP address'],
];

export function VelocityCounts(props: { velocity: Velocity }) {
  return (
    <ScrollBox label="Velocity counts" class="velocity">
      <table>
        <caption class="sr-only">Velocity counts over the last 5 minutes, hour and 24 hours</caption>
        <thead>
          <tr>
            <th scope="col">Count</th>
            {WINDOWS.map((w) => (
              <th scope="col" class="num" key={w}>
                {w}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {COUNTS.map(([key, label]) => (
            <tr key={key}>
              <th scope="row">
                {label} <code class="muted small">{key}</code>
              </th>
              {WINDOWS.map((w) => (
                <td class="num" key={w}>
                  {formatNumber(props.velocity[key][w])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </ScrollBox>
  );
}
