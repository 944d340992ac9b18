/**
 * Friends and groups: requests, 1:1s started from the friends list, group creation and
 * membership. Errors become the store's `notice`, which the screens show.
 */
import { dmChannelId, type ChannelView, type HttpApi } from '@sdk'
import { describe } from './errors'
import * as r from './reducers'
import type { Store } from './store'

/** What social actions need of the rest of the app. */
export interface SocialHost {
  me(): string
  refreshFriends(): Promise<void>
  openConversation(id: string): void
}

export class SocialActions {
  constructor(private readonly store: Store, private readonly api: HttpApi, private readonly host: SocialHost) {}

  async addFriend(username: string): Promise<boolean> {
    const name = username.trim().toLowerCase()
    if (name === '') return false
    if (name === this.host.me()) {
      this.store.update(() => ({ notice: 'That is you. Add someone else.' }))
      return false
    }
    try {
      const { state } = await this.api.addFriend(name)
      this.store.update(() => ({ notice: state === 'friends' ? `You and ${name} are now friends.` : `Friend request sent to ${name}.` }))
      await this.host.refreshFriends()
      return true
    } catch (err) {
      this.store.update(() => ({ notice: describe(err) }))
      return false
    }
  }

  /** Starts (or opens) the 1:1 with a friend. */
  startDirect(username: string): void {
    const id = dmChannelId(this.host.me(), username)
    if (this.store.get().conversations[id] === undefined) {
      this.store.update((s) => ({ conversations: { ...s.conversations, [id]: r.bareConversation(id, this.host.me(), Date.now()) } }))
    }
    this.host.openConversation(id)
  }

  async createGroup(name: string, members: string): Promise<void> {
    const usernames = [...new Set(members.split(/[,\s]+/).map((m) => m.trim().toLowerCase()).filter((m) => m !== '' && m !== this.host.me()))]
    if (name.trim() === '') return this.store.update(() => ({ notice: 'Give the group a name.' }))
    try {
      const channel = await this.api.createGroup(name.trim(), usernames)
      this.store.update((s) => r.withChannel(s, channel, Date.now()))
      this.host.openConversation(channel.id)
    } catch (err) {
      this.store.update(() => ({ notice: describe(err) }))
    }
  }

  async addMember(group: string, username: string): Promise<boolean> {
    return this.changeGroup(() => this.api.addMember(group, username.trim().toLowerCase()))
  }

  async removeMember(group: string, username: string): Promise<boolean> {
    return this.changeGroup(() => this.api.removeMember(group, username))
  }

  async leaveGroup(group: string): Promise<boolean> {
    return this.changeGroup(() => this.api.removeMember(group, this.host.me()))
  }

  private async changeGroup(change: () => Promise<ChannelView>): Promise<boolean> {
    try {
      const channel = await change()
      this.store.update((s) => ({ ...r.withChannel(s, channel, Date.now()), notice: null }))
      return true
    } catch (err) {
      this.store.update(() => ({ notice: describe(err) }))
      return false
    }
  }
}
